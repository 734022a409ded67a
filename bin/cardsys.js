#!/usr/bin/env node
// The cardsys CLI runs the compiled code in dist/ (`make build`). Where dist/ is missing or older
// than a source file (a working copy being edited), it runs the TypeScript sources through tsx.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHIPPED_FOLDERS } from '../infra/source-folders.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiledMain = join(root, 'dist', 'cli', 'main.js');
// tsc rewrites its build info on every build that emits, and only what changed besides.
const buildInfo = join(root, 'dist', '.tsbuildinfo');

function newestSourceMs(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMs(path));
    else if (/\.(ts|js)$/.test(entry.name) && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

const builtMs = existsSync(compiledMain) && existsSync(buildInfo) ? statSync(buildInfo).mtimeMs : 0;
const fresh =
  builtMs > 0 && SHIPPED_FOLDERS.every((folder) => !existsSync(join(root, folder)) || newestSourceMs(join(root, folder)) <= builtMs);
if (fresh) {
  await import(compiledMain);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../cli/main.ts');
}
