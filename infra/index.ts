// Small pieces every process shares: where it logs, and how it finds a free port.
export { childLogger, createLogger, parseLogFormat, parseLogLevel, type LogSettings, type Logger } from './logger.js';
export { freePort } from './free-port.js';
export { startLinkProxy, type LinkProxy } from './net/link-proxy.js';
export { CARDSYS_BIN, CONSOLE_BUILD_DIR, siblingModule, workerSource } from './runtime.js';
export { CARD_ERROR_CODES, METRICS, MetricsRegistry, serveMetrics } from './metrics.js';
export { acquireFileLock, type FileLock } from './file-lock.js';
