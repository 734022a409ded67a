// Head office's own event writer and the store key directory built from its events.
export { HqWriter, NotWriterError, registerStore, storeKeyDirectory, type HqWriterOptions } from './hq-writer.js';
