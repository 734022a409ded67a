// Head office's own event writer and the store key directory built from its events.
export {
  HqWriter,
  type HqWriterOptions,
  NotWriterError,
  registerStore,
  storeKeyDirectory,
} from './hq-writer.js';
export { recordRefusals } from './refusal-record.js';
