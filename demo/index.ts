// `cardsys demo`: head office, two stores and a card through a day at the counter, as real processes.
export { runDemo, type DemoOptions, type DemoSummary } from './day.js';
export { DemoStepError } from './narrator.js';
