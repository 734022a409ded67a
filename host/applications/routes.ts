// POST /v1/applications: a customer's application, validated field by field; one user per bank
// account (409 for a second application on the same account).
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { z } from 'zod';
import type {} from '@fastify/swagger';
import { ApplicationInput, DuplicateApplicationError } from '../../domain/application.js';
import type { IssuanceOffice } from './issuance-office.js';

/** 400 naming the first field that is wrong, and why. */
export function sendValidationError(reply: FastifyReply, error: z.ZodError): FastifyReply {
  const issue = error.issues[0];
  const field = issue?.path.join('.') ?? '';
  return reply.code(400).send({ error: 'bad_request', field, message: field ? `${field}: ${issue?.message}` : (issue?.message ?? 'invalid request') });
}

export interface ApplicationRoutesOptions {
  office: IssuanceOffice;
  newId?: () => string;
}

export function applicationRoutes(options: ApplicationRoutesOptions): FastifyPluginAsync {
  const newId = options.newId ?? randomUUID;
  return async (app) => {
    app.post(
      '/v1/applications',
      {
        schema: {
          summary: 'Apply for a card: registers the applicant as a user',
          description:
            'Body: personal { name, address, birthDate (YYYY-MM-DD), occupation?, affiliation? }, bank { bankName?, bankCode (4 digits), ' +
            'branchCode (3 digits), accountNumber (7 digits) }, homeStoreId. 201 with the user id; 400 naming the field; 409 when the bank account already has a user.',
          tags: ['issuance'],
        },
      },
      async (request, reply) => {
        const parsed = ApplicationInput.safeParse(request.body ?? {});
        if (!parsed.success) return sendValidationError(reply, parsed.error);
        try {
          const user = await options.office.submitApplication(parsed.data, { userId: newId(), applicationId: newId() });
          return reply.code(201).send(user);
        } catch (error) {
          if (error instanceof DuplicateApplicationError) {
            return reply.code(409).send({ error: 'duplicate_application', message: `bank account ${error.bankId} already has a registered user; one application per account` });
          }
          throw error;
        }
      },
    );
  };
}
