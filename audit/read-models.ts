// The read-model check: rebuild head office's read models from the events alone, in a temporary
// file, up to the position head office's own copy has reached, and compare them table by table.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { EventStore } from '../eventstore/index.js';
import { ProjectionRunner, type Projection } from '../projections/index.js';
import { CHECKS, type Finding } from './findings.js';

export interface ReadModelComparison {
  findings: Finding[];
  /** Position both copies stand at, or undefined when nothing was compared. */
  position: bigint | undefined;
  tables: number;
  rows: number;
  notes: string[];
}

/** The event store as it stood at `last`: what a rebuild up to head office's checkpoint reads. */
function upTo(store: EventStore, last: bigint): EventStore {
  const refuse = () => {
    throw new Error('the audit reads the event store; it never writes');
  };
  return {
    appendToStream: async () => refuse(),
    readStream: async (streamId, options) => (await store.readStream(streamId, options)).filter((r) => r.position <= last),
    streamRevision: (streamId) => store.streamRevision(streamId),
    readAll: async (options = {}) => {
      if (options.after !== undefined && options.after >= last) return [];
      return (await store.readAll(options)).filter((r) => r.position <= last);
    },
    headPosition: async () => {
      const head = await store.headPosition();
      return head === undefined || head < last ? head : last;
    },
    subscribeToAll: () => refuse(),
    close: async () => undefined,
  };
}

/** The lowest checkpoint of the projections in a read-model file, or undefined. */
function checkpointOf(db: Database.Database, projections: readonly Projection[]): bigint | undefined {
  const rows = db.prepare('SELECT name, position FROM projection_checkpoints').safeIntegers(true).all() as {
    name: string;
    position: bigint | null;
  }[];
  let lowest: bigint | undefined;
  for (const projection of projections) {
    const position = rows.find((row) => row.name === projection.name)?.position ?? undefined;
    if (position === undefined) return undefined;
    if (lowest === undefined || position < lowest) lowest = position;
  }
  return lowest;
}

function tableRows(db: Database.Database, table: string): string[] | undefined {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table);
  if (!exists) return undefined;
  const rows = db.prepare(`SELECT * FROM "${table}"`).safeIntegers(true).raw(true).all() as unknown[][];
  return rows
    .map((row) =>
      JSON.stringify(row, (_, value: unknown) =>
        typeof value === 'bigint' ? value.toString() : value instanceof Buffer ? value.toString('hex') : value,
      ),
    )
    .sort();
}

/** Rows of `a` that `b` lacks, as multisets. */
function missingFrom(a: string[], b: string[]): string[] {
  const counts = new Map<string, number>();
  for (const row of b) counts.set(row, (counts.get(row) ?? 0) + 1);
  const out: string[] = [];
  for (const row of a) {
    const left = counts.get(row) ?? 0;
    if (left > 0) counts.set(row, left - 1);
    else out.push(row);
  }
  return out;
}

/**
 * Rebuilds `projections` from `store` into a temporary file and compares every table with head
 * office's `currentFile`. Head office's copy may be behind the store: the rebuild stops where it is.
 */
export async function compareReadModels(options: {
  store: EventStore;
  currentFile: string;
  projections: readonly Projection[];
  /** Tables that do not follow from the events (e.g. a random identity of one copy), with why. */
  notFromEvents?: Readonly<Record<string, string>>;
}): Promise<ReadModelComparison> {
  const result: ReadModelComparison = { findings: [], position: undefined, tables: 0, rows: 0, notes: [] };
  if (!existsSync(options.currentFile)) {
    result.notes.push(`read models were not compared: no read-model file at ${options.currentFile}`);
    return result;
  }
  const current = new Database(options.currentFile, { readonly: true, fileMustExist: true });
  const dir = mkdtempSync(join(tmpdir(), 'cardsys-audit-readmodels-'));
  try {
    // Compare what head office keeps: a projection it does not run has no checkpoint in its file.
    const kept = new Set((current.prepare('SELECT name FROM projection_checkpoints').all() as { name: string }[]).map((row) => row.name));
    const compared = options.projections.filter((projection) => kept.has(projection.name));
    for (const projection of options.projections)
      if (!kept.has(projection.name)) result.notes.push(`read model ${projection.name} was not compared: head office does not keep it`);
    const position = checkpointOf(current, compared);
    if (position === undefined || compared.length === 0) {
      result.notes.push(`read models were not compared: head office's copy ${options.currentFile} has not applied every projection yet`);
      return result;
    }
    result.position = position;
    const runner = ProjectionRunner.open({ file: join(dir, 'readmodels.db'), store: upTo(options.store, position), projections: compared });
    try {
      await runner.rebuild();
      for (const projection of compared) {
        for (const table of projection.tables) {
          const why = options.notFromEvents?.[table];
          if (why !== undefined) {
            result.notes.push(`table ${table} was not compared: ${why}`);
            continue;
          }
          const fresh = tableRows(runner.db, table) ?? [];
          const kept = tableRows(current, table);
          result.tables += 1;
          result.rows += fresh.length;
          if (kept === undefined) {
            result.findings.push({
              check: CHECKS.projection,
              message: `${projection.name}: head office's read models have no table ${table}`,
            });
            continue;
          }
          const onlyKept = missingFrom(kept, fresh);
          const onlyFresh = missingFrom(fresh, kept);
          if (onlyKept.length === 0 && onlyFresh.length === 0) continue;
          result.findings.push({
            check: CHECKS.projection,
            message:
              `${projection.name}, table ${table} (at position ${position}): ${onlyKept.length} row(s) only in head office's copy, ${onlyFresh.length} only in the rebuild from the events` +
              `${onlyKept[0] ? `; head office has ${onlyKept[0]}` : ''}${onlyFresh[0] ? `; the events give ${onlyFresh[0]}` : ''}`,
          });
        }
      }
    } finally {
      await runner.close();
    }
    return result;
  } finally {
    current.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
