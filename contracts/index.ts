// What the contracts offer: protobuf messages and their codecs, NATS subjects, and zod schemas for
// every HTTP body and CLI input.
export * from './codec.js';
export * from './subjects.js';
export * from './schemas.js';
