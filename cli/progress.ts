// A progress bar for long CLI jobs on stderr: count, rate and ETA. On a terminal it redraws one
// line; otherwise (logs, pipes) it prints a plain line at most once per interval.

export interface ProgressOptions {
  /** What is counted, e.g. "events". */
  unit: string;
  label?: string;
  stream?: NodeJS.WriteStream;
  /** Least time between two plain lines when the stream is not a terminal. */
  plainIntervalMs?: number;
  now?: () => number;
}

export interface Progress {
  /** `count` done so far; `fraction` of the whole job done (0..1), when known, for the bar and ETA. */
  update(count: number, fraction?: number): void;
  /** Prints the final line. */
  finish(summary?: string): void;
}

const BAR_WIDTH = 24;

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** One status line: "[#####.....] 45% 12,345 events 48,000/s ETA 3s". */
export function progressLine(options: { unit: string; count: number; fraction?: number; elapsedMs: number }): string {
  const rate = options.elapsedMs > 0 ? (options.count * 1000) / options.elapsedMs : 0;
  const parts: string[] = [];
  if (options.fraction !== undefined) {
    const fraction = Math.min(1, Math.max(0, options.fraction));
    const filled = Math.round(fraction * BAR_WIDTH);
    parts.push(`[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${Math.floor(fraction * 100)}%`);
  }
  parts.push(`${options.count.toLocaleString('en-US')} ${options.unit}`, `${Math.round(rate).toLocaleString('en-US')}/s`);
  if (options.fraction !== undefined && options.fraction > 0 && options.fraction < 1) {
    const elapsed = options.elapsedMs / 1000;
    parts.push(`ETA ${formatDuration((elapsed / options.fraction) * (1 - options.fraction))}`);
  }
  return parts.join(' ');
}

export function startProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const tty = stream.isTTY === true;
  const interval = options.plainIntervalMs ?? 1000;
  const prefix = options.label ? `${options.label} ` : '';
  const started = now();
  let lastPlain = -Infinity;
  let last = { count: 0, fraction: undefined as number | undefined };
  const line = () => prefix + progressLine({ unit: options.unit, count: last.count, fraction: last.fraction, elapsedMs: now() - started });
  return {
    update(count, fraction) {
      last = { count, fraction };
      if (tty) {
        stream.write(`\r${line()}\x1b[K`);
      } else if (now() - lastPlain >= interval) {
        lastPlain = now();
        stream.write(`${line()}\n`);
      }
    },
    finish(summary) {
      const text = summary === undefined ? line() : prefix + summary;
      stream.write(tty ? `\r${text}\x1b[K\n` : `${text}\n`);
    },
  };
}
