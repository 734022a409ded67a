import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';

// One shape for every refusal of the query API: 400 { error, field, message } naming the field,

/** Thrown by a handler for an id that names nothing; answered with 404. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

/** A refusal thrown from a hook or a handler and answered as it stands: its status, body and headers. */
export class ApiRefusal extends Error {
  override name = 'ApiRefusal';
  constructor(
    readonly statusCode: number,
    readonly body: { error: string; message: string } & Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
}

export interface BadRequestBody {
  error: 'bad_request';
  field: string;
  message: string;
}

/** The first issue of a zod error as a 400 body; `where` (params, querystring, body) names the field when the path is empty. */
function badRequestBody(error: z.ZodError, where = ''): BadRequestBody {
  const issue = error.issues[0];
  // A field the schema does not accept is named itself, under the object that carried it.
  const path = issue?.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : (issue?.path ?? []);
  const field = path.length > 0 ? path.join('.') : where;
  return {
    error: 'bad_request',
    field,
    message: `${field ? `${field}: ` : ''}${issue?.message ?? 'invalid request'}`,
  };
}

function sendBadRequest(reply: FastifyReply, error: z.ZodError, where = ''): FastifyReply {
  return reply.code(400).send(badRequestBody(error, where));
}

const isZodSchema = (schema: unknown): schema is z.ZodType => schema instanceof z.ZodType;

/**
 * A request body of exactly these fields: one it does not know is refused (400 naming it), never
 * ignored. `holds` lists the fields for the messages; `why` says why no other is taken.
 */
export function strictBody<Shape extends z.ZodRawShape>(shape: Shape, holds: string, why = '') {
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? `not accepted: the body holds only ${holds}${why}` : `body must be a JSON object with ${holds}`,
  });
}

/**
 * Lets the routes of this (encapsulated) instance declare zod schemas for params, querystring and
 * body: fastify validates with them and hands the parsed values to the handler.
 */
export function useZodValidation(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema }) => {
    if (!isZodSchema(schema)) throw new Error('routes of this plugin declare their params, querystring and body with zod');
    return (data: unknown) => {
      const result = schema.safeParse(data);
      return result.success ? { value: result.data } : { error: result.error };
    };
  });
}

/** zod schemas as JSON Schema for the OpenAPI document; other schemas pass unchanged. */
export function zodToOpenApi(schema: unknown): unknown {
  return isZodSchema(schema) ? z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) : schema;
}

/** Installs the 400/404/500 shapes on the root instance, for every route including other plugins'. */
export function installErrorShapes(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError & { validationContext?: string }, request, reply) => {
    if (error instanceof ApiRefusal) return reply.code(error.statusCode).headers(error.headers).send(error.body);
    if (error instanceof z.ZodError) return sendBadRequest(reply, error, error.validationContext);
    if (error instanceof NotFoundError) return reply.code(404).send({ error: 'not_found', message: error.message });
    if (error.validation) {
      // JSON-schema validation of routes that do not use zod.
      const first = error.validation[0];
      const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
      const field = missing ?? first?.instancePath?.replace(/^\//, '').replaceAll('/', '.') ?? error.validationContext ?? '';
      return reply.code(400).send({
        error: 'bad_request',
        field,
        message: `${field ? `${field}: ` : ''}${first?.message ?? error.message}`,
      });
    }
    if (error.statusCode === 503) {
      // Not here, but perhaps elsewhere: a follower names the instance that holds the writer.
      const leader = (error as { leader?: string }).leader;
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({
          error: error.code ?? 'unavailable',
          message: error.message,
          ...(leader ? { leader } : {}),
        });
    }
    if (error.statusCode && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ error: 'bad_request', field: '', message: error.message });
    }
    request.log.error(error);
    return reply.code(500).send({ error: 'internal', message: error.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: 'not_found',
      message: `no route ${request.method} ${request.url}`,
    }),
  );
}
