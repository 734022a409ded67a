/** Where a long-running part reports what it did and what went wrong; `console` is one. */
export type Logger = Pick<Console, 'info' | 'warn' | 'error'>;
