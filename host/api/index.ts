// Head office's HTTP API: the builder, and the error shapes and zod validation other route plugins share.
export { buildApi, type ApiDeps, type CardView } from './build-api.js';
export { NotFoundError, sendBadRequest, useZodValidation, type BadRequestBody } from './http-errors.js';
export type { EventView } from './event-view.js';
