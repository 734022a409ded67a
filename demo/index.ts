// `cardsys demo`: head office, two stores and a card through a day at the counter, as real processes.
export type { DemoSummary } from './context.js';
export { DEMO_CLUSTER_EVENT_STORE } from './cluster.js';
export { runDemo, type DemoOptions } from './day.js';
export { type DayPart, SKIPPABLE_PARTS } from './steps.js';
export { DemoStepError } from './narrator.js';
