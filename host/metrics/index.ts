// Head office's metrics in Prometheus's format (the names are defined in infra/metrics.ts).
export { HeadOfficeMetrics } from './head-office-metrics.js';
