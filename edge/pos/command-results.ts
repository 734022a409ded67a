import { createHash } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { durably } from '../log/index.js';
import { pb, type cardsys } from '../../contracts/index.js';

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
      finished_at TEXT
    )`);
    this.getStatement = db.prepare<[string], { request_digest: string; reply: Buffer | null }>(
      'SELECT request_digest, reply FROM pos_commands WHERE command_id = ?',
    );
    this.startStatement = db.prepare<[string, string, string, string]>(
      'INSERT INTO pos_commands (command_id, kind, request_digest, started_at) VALUES (?, ?, ?, ?)',
    );
    this.finishStatement = db.prepare<[Buffer, string, string]>('UPDATE pos_commands SET reply = ?, finished_at = ? WHERE command_id = ?');
  }

  /** The command as first seen: its request digest and, once finished, its encoded reply. */
  find(commandId: string): { requestDigest: string; reply: Uint8Array | undefined } | undefined {
    const row = this.getStatement.get(commandId);
    return row && { requestDigest: row.request_digest, reply: row.reply ?? undefined };
  }

  start(commandId: string, kind: string, requestDigest: string): void {
    durably(this.db, () => this.startStatement.run(commandId, kind, requestDigest, new Date().toISOString()));
  }

  finish(commandId: string, reply: Uint8Array): void {
    durably(this.db, () => this.finishStatement.run(Buffer.from(reply), new Date().toISOString(), commandId));
  }
}

/**
 * What identifies a command's content, to tell a retry from a different command reusing an id: the
 * terminal it came from and the command's fields but the PIN block (random on every encryption, and
 * secret: edge.db keeps nothing derived from the PIN).
 */
export function commandDigest(command: cardsys.v1.PosCommand, terminalId: string): string {
  const { load } = command;
  const fields = pb.PosCommand.encode({
    ...command,
    terminalId,
    ...(load ? { load: { amount: load.amount } } : {}),
  }).finish();
  return createHash('sha256').update(fields).digest('hex');
}
