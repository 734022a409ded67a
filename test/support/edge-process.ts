// A store's edge as its own process (`cardsys edge` with a PC/SC reader), for tests that crash it
// or cut its power. A power cut is simulated for real: the edge runs with an LD_PRELOAD shim
// (fsync-shadow.c) that copies each file of the store's folder to a shadow tree whenever it is
// synced; cutting the power kills the process and puts the shadow tree back, so every write that no
// fsync/fdatasync covered is lost, as on a machine that loses power (SQLite's WAL frames committed
// with synchronous=NORMAL included).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../bin/cardsys.js', import.meta.url));
const SHIM_SOURCE = fileURLToPath(new URL('./fsync-shadow.c', import.meta.url));

/** The C compiler: $CC, or gcc (Debian's gcc, which infra/install-system-deps.sh installs). */
const compiler = () => process.env.CC ?? 'gcc';

/** Compiles the shim into `dir`; throws naming what is missing. */
function buildShim(dir: string): string {
  const library = join(dir, 'fsync-shadow.so');
  if (existsSync(library)) return library;
  mkdirSync(dir, { recursive: true });
  const built = spawnSync(compiler(), ['-shared', '-fPIC', '-O1', '-o', library, SHIM_SOURCE, '-ldl'], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`cannot build the power-cut shim with ${compiler()}: ${built.error?.message ?? built.stderr}`);
  return library;
}

/**
 * Power cuts of the files under `watched`, for processes started with `env()`: what is on disk when
 * `env()` is called counts as durable, later writes only once an fsync/fdatasync covered them, and
 * `restore()` (after the process is killed) leaves the folder as the disk would after a power cut.
 */
export class PowerCut {
  private readonly shadowDir: string;

  constructor(
    private readonly workDir: string,
    private readonly watched: string,
  ) {
    this.shadowDir = join(workDir, `shadow-${basename(watched)}`);
  }

  env(): NodeJS.ProcessEnv {
    rmSync(this.shadowDir, { recursive: true, force: true });
    mkdirSync(this.watched, { recursive: true });
    cpSync(this.watched, this.shadowDir, { recursive: true });
    return {
      LD_PRELOAD: buildShim(this.workDir),
      CARDSYS_POWERCUT_DIR: this.watched,
      CARDSYS_POWERCUT_SHADOW: this.shadowDir,
    };
  }

  /** Makes the watched folder hold exactly the synced files (a file never synced is gone). */
  restore(): void {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.includes('.tmp-') ? [] : [join(dir, entry.name)],
      );
    const kept = new Set(files(this.shadowDir).map((file) => relative(this.shadowDir, file)));
    for (const file of files(this.watched)) if (!kept.has(relative(this.watched, file))) rmSync(file);
    for (const file of kept) cpSync(join(this.shadowDir, file), join(this.watched, file));
  }
}

export interface EdgeProcessOptions {
  /** The `--data` folder; the store's files are in `<data>/stores/<storeId>`. */
  dataDir: string;
  storeId: string;
  reader: string;
  natsUrl: string;
  /** Folder for the shim and the shadow tree; with it, the edge runs under the power-cut shim. */
  powerCutDir?: string;
  /** True once the edge answers a POS command (a probe with a short timeout). */
  answers: () => Promise<boolean>;
}

export interface EdgeProcess {
  /** Everything the edge wrote to stderr and stdout so far. */
  output(): string;
  /** Kills the process at once (SIGKILL): a crash. Files keep every write the kernel took. */
  crash(): Promise<void>;
  /** SIGKILL, then the store's folder is put back to what the last syncs left on disk. */
  powerCut(): Promise<void>;
  /** SIGTERM and wait: a clean stop. */
  stop(): Promise<void>;
}

export async function startEdgeProcess(options: EdgeProcessOptions): Promise<EdgeProcess> {
  const storeDir = join(options.dataDir, 'stores', options.storeId);
  const power = options.powerCutDir ? new PowerCut(options.powerCutDir, storeDir) : undefined;
  const env: NodeJS.ProcessEnv = { ...process.env, ...power?.env() };
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, 'edge', '--store', options.storeId, '--data', options.dataDir, '--reader', options.reader, '--nats', options.natsUrl],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  for (const stream of [child.stdout!, child.stderr!]) stream.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  // Ready once it answers a POS command (it serves them once NATS is reached).
  for (const deadline = Date.now() + 60_000; !(await options.answers()); ) {
    if (gone) throw new Error(`edge ${options.storeId} exited during start:\n${output}`);
    if (Date.now() > deadline) throw new Error(`edge ${options.storeId} did not answer within 60 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  return {
    output: () => output,
    crash: kill,
    async powerCut() {
      if (!power) throw new Error('this edge does not run under the power-cut shim (powerCutDir)');
      await kill();
      power.restore();
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
