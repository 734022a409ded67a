// The POS terminal's side: send a command to the store's edge and wait for its reply, retrying
// with the same command id after a timeout (the edge answers a retry with the first result). The
// reply is asked for inside the store's POS inbox, the only place the edge answers.
import { createInbox, type NatsConnection } from '@nats-io/transport-node';
import { decodeOrThrow, pb, subjects, type cardsys, type PosReply } from '../../contracts/index.js';
import { inboxPrefixOf } from '../../infra/nats/index.js';

export interface SendOptions {
  /** How long to wait for each attempt. */
  timeoutMs?: number;
  /** Attempts in all, the first included. */
  attempts?: number;
}

export async function sendPosCommand(
  nc: NatsConnection,
  command: cardsys.v1.PosCommand.$Properties,
  options: SendOptions = {},
): Promise<PosReply> {
  const bytes = pb.PosCommand.encode(command).finish();
  const attempts = options.attempts ?? 3;
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const storeId = command.storeId ?? '';
      const reply = createInbox(inboxPrefixOf({ role: 'pos', storeId }));
      const message = await nc.request(subjects.pos(storeId), bytes, { timeout: options.timeoutMs ?? 10_000, noMux: true, reply });
      return decodePosReply(message.data);
    } catch (error) {
      lastError = error as Error;
    }
  }
  throw new Error(`no answer from store ${command.storeId} after ${attempts} attempt(s): ${lastError?.message ?? 'unknown error'}`);
}

export function decodePosReply(bytes: Uint8Array): PosReply {
  return decodeOrThrow('PosReply', () => pb.PosReply.decode(bytes));
}
