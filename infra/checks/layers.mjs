#!/usr/bin/env node
// The architecture's import rules, checked over the source tree (part of `make test`):
// which top-level folder may import which, no shipped code importing tests, no import circle, and
// every test file named by its kind.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { SHIPPED_FOLDERS } from '../source-folders.mjs';

const root = resolve(dirname(new URL(import.meta.url).pathname), '../..');
const SOURCE_FOLDERS = [...SHIPPED_FOLDERS, 'test', 'console'];

// Who may import whom: a folder not named on the right may not be imported. Lower rooms know
// nothing of the higher ones; host/ and edge/ know nothing of each other.
const MAY_IMPORT = {
  contracts: [],
  domain: ['contracts', 'card'],
  card: ['contracts'],
  infra: ['contracts'],
  eventstore: ['contracts', 'infra'],
  reader: ['contracts', 'domain', 'card', 'infra'],
  projections: ['contracts', 'domain', 'card', 'eventstore', 'infra'],
  audit: ['contracts', 'domain', 'card', 'eventstore', 'projections', 'infra'],
  edge: ['contracts', 'domain', 'card', 'reader', 'infra'],
  host: ['contracts', 'domain', 'card', 'eventstore', 'reader', 'projections', 'infra', 'console'],
  testkit: ['contracts', 'domain', 'card', 'eventstore', 'reader', 'edge', 'host', 'projections', 'audit', 'infra'],
  bench: ['contracts', 'domain', 'card', 'eventstore', 'reader', 'edge', 'host', 'projections', 'audit', 'infra', 'testkit', 'cli'],
  demo: ['contracts', 'domain', 'card', 'eventstore', 'reader', 'edge', 'host', 'projections', 'audit', 'infra', 'cli'],
  cli: ['contracts', 'domain', 'card', 'eventstore', 'reader', 'edge', 'host', 'projections', 'audit', 'infra', 'bench', 'demo'],
  console: ['contracts'],
  test: SOURCE_FOLDERS,
};

function* sourceFiles(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'generated' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* sourceFiles(path);
    else if (/\.(ts|tsx|mts)$/.test(name) && !name.endsWith('.d.ts')) yield path;
  }
}

const importPattern = /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
const folderOf = (file) => relative(root, file).split('/')[0];
const toSource = (from, specifier) => {
  const target = resolve(dirname(from), specifier);
  for (const candidate of [target.replace(/\.js$/, '.ts'), target.replace(/\.js$/, '.tsx'), target]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {}
  }
  return undefined;
};

const problems = [];
const graph = new Map();
for (const folder of SOURCE_FOLDERS) {
  let files;
  try {
    files = [...sourceFiles(join(root, folder))];
  } catch {
    continue;
  }
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const edges = [];
    for (const match of text.matchAll(importPattern)) {
      const specifier = match[1] ?? match[2];
      const target = toSource(file, specifier);
      if (!target) continue;
      const targetFolder = folderOf(target);
      if (target.includes('/contracts/generated/')) continue;
      edges.push(target);
      if (targetFolder === folder) continue;
      if (!MAY_IMPORT[folder]?.includes(targetFolder))
        problems.push(`${relative(root, file)} imports ${relative(root, target)}: ${folder}/ may not import ${targetFolder}/`);
    }
    graph.set(file, edges);
    if (folder === 'test' && /\.test\.ts$/.test(file) && !/\.(unit|int|e2e)\.test\.ts$/.test(file)) {
      problems.push(`${relative(root, file)}: name a test file by its kind (.unit.test.ts without I/O, .int.test.ts, .e2e.test.ts)`);
    }
  }
}

// Import circles between modules (Tarjan's strongly connected components); type-only imports count too.
let index = 0;
const stack = [];
const state = new Map();
const cycles = [];
function visit(node) {
  state.set(node, { index, low: index, onStack: true });
  index++;
  stack.push(node);
  for (const next of graph.get(node) ?? []) {
    if (!graph.has(next)) continue;
    if (!state.has(next)) {
      visit(next);
      state.get(node).low = Math.min(state.get(node).low, state.get(next).low);
    } else if (state.get(next).onStack) state.get(node).low = Math.min(state.get(node).low, state.get(next).index);
  }
  const own = state.get(node);
  if (own.low === own.index) {
    const component = [];
    let member;
    do {
      member = stack.pop();
      state.get(member).onStack = false;
      component.push(member);
    } while (member !== node);
    if (component.length > 1) cycles.push(component);
  }
}
for (const node of graph.keys()) if (!state.has(node)) visit(node);
for (const cycle of cycles)
  problems.push(
    `import circle: ${cycle
      .map((file) => relative(root, file))
      .sort()
      .join(' ↔ ')}`,
  );

if (problems.length > 0) {
  for (const problem of problems) console.error(problem);
  console.error(`layers: ${problems.length} problem(s) in ${graph.size} files`);
  process.exit(1);
}
console.log(`layers: ${graph.size} files, import rules kept, no import circle`);
