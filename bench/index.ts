// `make bench`: every benchmark module that exists, run in one go, their figures collected
// (`runner.ts`); each module `bench/<name>.ts` exports a function returning its figures.
export {
  BENCH_NAMES,
  type BenchContext,
  type BenchFunction,
  type BenchName,
  type BenchOutcome,
  type BenchReport,
  type Figures,
  formatReport,
  isBenchName,
  type RunBenchesOptions,
  runBenches,
} from './runner.js';
export {
  benchPipeline,
  PIPELINE_EVENT_STORES,
  type PipelineBenchOptions,
  type PipelineEventStore,
  type PipelineFigures,
} from './pipeline.js';
export { type SignedHistory, writeSignedHistory } from './audit-history.js';
export { type Goal, notMeasuredGoal } from './goals.js';
export { benchScaling, measureScaling, SCALING_STORES, type ScalingFigures, type ScalingRow } from './scaling.js';
