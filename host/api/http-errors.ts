import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';

// One shape for every refusal of the query API: 400 { error, field, message } naming the field,
// 404 { error: "not_found", message }, 503 { error, message, leader? } for what another instance
// must do, 500 { error: "internal", message }.

/** Thrown by a handler for an id that names nothing; answered with 404. */
export class NotFoundError extends Error {
  override name = 'NotFoundError';
}

export interface BadRequestBody {
  error: 'bad_request';
  field: string;
  message: string;
}

/** The first issue of a zod error as a 400 body; `where` (params, querystring, body) names the field when the path is empty. */
function badRequestBody(error: z.ZodError, where = ''): BadRequestBody {
  const issue = error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : where;
  return { error: 'bad_request', field, message: `${field ? `${field}: ` : ''}${issue?.message ?? 'invalid request'}` };
}

export function sendBadRequest(reply: FastifyReply, error: z.ZodError, where = ''): FastifyReply {
  return reply.code(400).send(badRequestBody(error, where));
}

const isZodSchema = (schema: unknown): schema is z.ZodType => schema instanceof z.ZodType;

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
    if (error instanceof z.ZodError) return sendBadRequest(reply, error, error.validationContext);
    if (error instanceof NotFoundError) return reply.code(404).send({ error: 'not_found', message: error.message });
    if (error.validation) {
      // JSON-schema validation of routes that do not use zod.
      const first = error.validation[0];
      const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
      const field = missing ?? first?.instancePath?.replace(/^\//, '').replaceAll('/', '.') ?? error.validationContext ?? '';
      return reply
        .code(400)
        .send({ error: 'bad_request', field, message: `${field ? `${field}: ` : ''}${first?.message ?? error.message}` });
    }
    if (error.statusCode === 503) {
      // Not here, but perhaps elsewhere: a follower names the instance that holds the writer.
      const leader = (error as { leader?: string }).leader;
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({ error: error.code ?? 'unavailable', message: error.message, ...(leader ? { leader } : {}) });
    }
    if (error.statusCode && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ error: 'bad_request', field: '', message: error.message });
    }
    request.log.error(error);
    return reply.code(500).send({ error: 'internal', message: error.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: 'not_found', message: `no route ${request.method} ${request.url}` }),
  );
}
