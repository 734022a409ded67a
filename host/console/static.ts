// Serves the console's built files (dist/console, made by `make build`) at /console/; the page
// itself holds no data and needs no token: everything it shows it reads from the API with one.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';

const CONSOLE_PATH = '/console/';

export function consolePage(buildDir: string): FastifyPluginAsync {
  return async (app) => {
    const redirect = {
      schema: { summary: "Head office's console (a web page: sign in there with an API token)", tags: ['console'] },
      config: { responses: { 302: `to ${CONSOLE_PATH}` } },
    };
    app.get('/', redirect, async (_request, reply) => reply.redirect(CONSOLE_PATH));
    app.get('/console', redirect, async (_request, reply) => reply.redirect(CONSOLE_PATH));
    const files = {
      schema: { summary: "The console's files (built by make build into dist/console)", tags: ['console'] },
      config: { responses: { 200: 'the file', 404: 'no such file', 503: 'the console is not built' } },
    };
    if (!existsSync(join(buildDir, 'index.html'))) {
      app.get(`${CONSOLE_PATH}*`, files, async (_request, reply) =>
        reply
          .code(503)
          .type('text/plain; charset=utf-8')
          .send(`head office's console is not built: run "make build" (it builds the page into ${buildDir})\n`),
      );
      return;
    }
    await app.register(fastifyStatic, { root: buildDir, prefix: CONSOLE_PATH, schemaHide: false, maxAge: 0 });
  };
}
