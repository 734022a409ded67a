// Vitest's worker sends its progress to the main process and times each call out after 60 s, reading
// the answer only when the event loop turns. Tests that run the CLI synchronously do not let it turn,
// so a file of them could add up past 60 s on a busy machine and fail a run whose tests all passed.
// Each test ends by letting the event loop turn once.
import { afterEach } from 'vitest';

afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
