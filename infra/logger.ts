// One logger for every long-running part: pino, with levels, the part's component name and the ids
// it works on (store, card, command, event) as fields. JSON lines off a terminal (for a log
// collector), readable lines on one; both on stderr, since stdout carries --json answers.
import { pino } from 'pino';
import pretty from 'pino-pretty';

/** Where a long-running part reports what it did and what went wrong; `console` is one, a pino logger another. */
export type Logger = Pick<Console, 'info' | 'warn' | 'error'>;

const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogSettings {
  /** Default: pretty when stderr is a terminal, JSON otherwise. */
  format?: LogFormat;
  level?: LogLevel;
}

/** What a log line says it is about: the part, and the ids it was working on. */
export type LogFields = { component?: string; store?: string; card?: string; command?: string; event?: string } & Record<string, string>;

/** The process's root logger: its lines carry `component`. */
export function createLogger(component: string, settings: LogSettings = {}): pino.Logger {
  const format = settings.format ?? (process.stderr.isTTY ? 'pretty' : 'json');
  const options = { level: settings.level ?? 'info', base: { component } };
  if (format === 'json') return pino(options, pino.destination({ fd: 2, sync: true }));
  return pino(
    options,
    pretty({
      destination: 2,
      sync: true,
      colorize: Boolean(process.stderr.isTTY),
      ignore: 'pid,hostname',
      translateTime: 'SYS:HH:MM:ss.l',
    }),
  );
}

/**
 * The logger of a part of `logger`'s: a pino child carrying the fields. A plain Logger (console, a
 * test's capture) is returned as it is: the messages name their part already.
 */
export function childLogger(logger: Logger, fields: LogFields): Logger {
  const parent = logger as Logger & { child?: (bindings: LogFields) => Logger };
  return typeof parent.child === 'function' ? parent.child(fields) : logger;
}

export function parseLogFormat(text: string): LogFormat {
  if (!(LOG_FORMATS as readonly string[]).includes(text))
    throw new Error(`--log-format: expected ${LOG_FORMATS.join(' or ')}, got "${text}"`);
  return text as LogFormat;
}

export function parseLogLevel(text: string): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(text))
    throw new Error(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got "${text}"`);
  return text as LogLevel;
}
