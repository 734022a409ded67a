// POST /v1/applications: a customer's application, validated field by field (400 naming the
// field); one user per bank account (409 for a second application on the same account).
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { z } from 'zod';
import { ApplicationInput, DuplicateApplicationError } from '../../domain/index.js';
import { useZodValidation } from '../api/index.js';
import type { IssuanceOffice } from './issuance-office.js';

export interface ApplicationRoutesOptions {
  /** The writer's issuance office; throws NotWriterError where this instance does not hold the writer. */
  office: () => IssuanceOffice;
  newId?: () => string;
}

export function applicationRoutes(options: ApplicationRoutesOptions): FastifyPluginAsync {
  const newId = options.newId ?? randomUUID;
  return async (app) => {
    useZodValidation(app);
    app.post(
      '/v1/applications',
      {
        schema: {
          summary: 'Apply for a card: registers the applicant as a user',
          tags: ['issuance'],
          body: ApplicationInput,
        },
        config: {
          responses: {
            201: '{ userId, applicationId, bankId, eventId }',
            409: 'duplicate_application: the bank account already has a user',
          },
        },
      },
      async (request, reply) => {
        const input = request.body as z.output<typeof ApplicationInput>;
        try {
          const user = await options.office().submitApplication(input, {
            userId: newId(),
            applicationId: newId(),
          });
          return reply.code(201).send(user);
        } catch (error) {
          if (error instanceof DuplicateApplicationError) {
            return reply.code(409).send({
              error: 'duplicate_application',
              message: `bank account ${error.bankId} already has a registered user; one application per account`,
            });
          }
          throw error;
        }
      },
    );
  };
}
