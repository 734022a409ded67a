// Where the running code lives: compiled JavaScript in dist/ (what bin/cardsys.js runs) or the
// TypeScript sources through tsx (development and tests). Code that starts a worker, a child
// process or loads a sibling module by name asks here, so both ways run the same code.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const compiled = import.meta.url.endsWith('.js');

/** The project's folder (where package.json is), whichever way the code runs. */
const PROJECT_ROOT = fileURLToPath(new URL(compiled ? '../../' : '../', import.meta.url));

/** The `cardsys` command, for parts that start it as a child process. */
export const CARDSYS_BIN = join(PROJECT_ROOT, 'bin', 'cardsys.js');

/** Where `make build` puts head office's console (the page `cardsys host` serves at /console/). */
export const CONSOLE_BUILD_DIR = join(PROJECT_ROOT, 'dist', 'console');

/** The module `name` (without extension) in the folder of `base` (an import.meta.url). */
export function siblingModule(name: string, base: string): URL {
  return new URL(`./${name}${compiled ? '.js' : '.ts'}`, base);
}

/**
 * Source for `new Worker(source, { eval: true })` that runs `entry`. Worker threads do not inherit
 * tsx's loader, so a TypeScript entry registers it first. (Under a test runner that rewrites
 * import.meta, the bare name resolves from the working directory.)
 */
export function workerSource(entry: URL): string {
  if (entry.pathname.endsWith('.js')) return `import(${JSON.stringify(entry.href)});`;
  const tsx = typeof import.meta.resolve === 'function' ? import.meta.resolve('tsx/esm/api') : 'tsx/esm/api';
  return `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
}
