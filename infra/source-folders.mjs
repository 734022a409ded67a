// The folders whose sources make up the shipped program (compiled to dist/ by tsconfig.build.json,
// which lists the same folders), for bin/cardsys.js and the import-rules check.
export const SHIPPED_FOLDERS = [
  'contracts',
  'domain',
  'card',
  'eventstore',
  'reader',
  'edge',
  'host',
  'projections',
  'audit',
  'demo',
  'infra',
  'cli',
  'bench',
  'testkit',
];
