import { createHash } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { durably } from '../log/index.js';
import { pb, type cardsys } from '../../contracts/index.js';

interface CommandRow {
  kind: string;
  request_digest: string;
  reply: Buffer | null;
  started_at: string;
  finished_at: string | null;
  terminal_id: string | null;
}

export interface StoredCommand {
  kind: string;
  requestDigest: string;
  reply: Uint8Array | undefined;
  startedAt: string;
  finishedAt: string | undefined;
  /** The terminal it came from; undefined for a command recorded before commands named theirs. */
  terminalId: string | undefined;
}

/**
 * Results of POS commands in edge.db, so a terminal that retries gets the first result. A command
 * is marked running before it touches the card: one found still running after a restart was cut
 * short, and is never run again. Both the mark and the result are synced to disk before the command
 * goes on (edge.db otherwise runs with synchronous=NORMAL): a power cut loses neither, so a retry
 * after it never runs the command a second time.
 */
export class CommandResults {
  private readonly getStatement;
  private readonly startStatement;
  private readonly finishStatement;

  constructor(private readonly db: Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS pos_commands (
      command_id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      request_digest TEXT NOT NULL,
      reply BLOB,
      started_at TEXT NOT NULL,
      finished_at TEXT,
      terminal_id TEXT
    )`);
    // edge.db made before commands named their terminal: the column is added, older rows have none.
    const columns = db.prepare<[], { name: string }>('PRAGMA table_info(pos_commands)').all();
    if (!columns.some((column) => column.name === 'terminal_id')) db.exec('ALTER TABLE pos_commands ADD COLUMN terminal_id TEXT');
    this.getStatement = db.prepare<[string], CommandRow>(
      'SELECT kind, request_digest, reply, started_at, finished_at, terminal_id FROM pos_commands WHERE command_id = ?',
    );
    this.startStatement = db.prepare<[string, string, string, string, string]>(
      'INSERT INTO pos_commands (command_id, kind, request_digest, started_at, terminal_id) VALUES (?, ?, ?, ?, ?)',
    );
    this.finishStatement = db.prepare<[Buffer, string, string]>('UPDATE pos_commands SET reply = ?, finished_at = ? WHERE command_id = ?');
  }

  /** The command as first seen: its kind, request digest, terminal, times and, once finished, its encoded reply. */
  find(commandId: string): StoredCommand | undefined {
    const row = this.getStatement.get(commandId);
    return (
      row && {
        kind: row.kind,
        requestDigest: row.request_digest,
        reply: row.reply ?? undefined,
        startedAt: row.started_at,
        finishedAt: row.finished_at ?? undefined,
        terminalId: row.terminal_id ?? undefined,
      }
    );
  }

  start(commandId: string, kind: string, requestDigest: string, terminalId: string): void {
    durably(this.db, () => this.startStatement.run(commandId, kind, requestDigest, new Date().toISOString(), terminalId));
  }

  finish(commandId: string, reply: Uint8Array): void {
    durably(this.db, () => this.finishStatement.run(Buffer.from(reply), new Date().toISOString(), commandId));
  }
}

/**
 * What identifies a command's content, to tell a retry from a different command reusing an id: the
 * terminal it came from and the command's fields but the PIN blocks (random on every encryption, and
 * secret: edge.db keeps nothing derived from a PIN).
 */
export function commandDigest(command: cardsys.v1.PosCommand, terminalId: string): string {
  const { load, refund, unblockPin, cardReturn } = command;
  const fields = pb.PosCommand.encode({
    ...command,
    terminalId,
    ...(load ? { load: { amount: load.amount } } : {}),
    ...(refund ? { refund: { payEventId: refund.payEventId, amount: refund.amount } } : {}),
    ...(unblockPin ? { unblockPin: { name: unblockPin.name, birthDate: unblockPin.birthDate } } : {}),
    ...(command.changePin ? { changePin: {} } : {}),
    ...(cardReturn ? { cardReturn: {} } : {}),
    ...(command.replacementCredit ? { replacementCredit: {} } : {}),
  }).finish();
  return createHash('sha256').update(fields).digest('hex');
}
