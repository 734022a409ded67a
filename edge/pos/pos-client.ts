// The POS terminal's side: send a command to the store's edge on the terminal's own subject and wait
// for its reply, retrying with the same command id after a timeout (the edge answers a retry with
// the first result). The reply is asked for inside the terminal's own inbox, the only place the
// edge answers it; a PIN (a load's, an old or new one) leaves the terminal only as a PIN block under
// its PIN key.
import { createInbox, RequestError, type NatsConnection } from '@nats-io/transport-node';
import { decodeOrThrow, encryptPinBlock, pb, subjects, type cardsys, type PosReply } from '../../contracts/index.js';
import { inboxPrefixOf } from '../../infra/nats/index.js';

/** While no edge listens on the terminal's subject, the command is sent again this often. */
const NO_RESPONDERS_RETRY_MS = 250;

export interface SendOptions {
  /** How long to wait for each attempt. */
  timeoutMs?: number;
  /** Attempts in all, the first included. */
  attempts?: number;
}

/** Who sends: one terminal of one store, with its PIN key when it sends PINs. */
export interface PosTerminal {
  storeId: string;
  terminalId: string;
  pinKey?: Uint8Array;
}

/** A command as the terminal has it: its PINs still in clear, in memory only. */
export interface PosCommandInput {
  commandId: string;
  issue?: Record<string, never>;
  read?: Record<string, never>;
  pay?: { amount: number };
  load?: { amount: number; pin: string };
  /** Refund a pay of this store (amount omitted: the whole pay). */
  refund?: { payEventId: string; amount?: number; pin: string };
  /** Credit a replacement card with the lost card's balance, once the customer entered the PIN. */
  replacementCredit?: { pin: string };
  /** PIN unblock: the holder's identity as the clerk checked it, and the new PIN. */
  unblockPin?: { name: string; birthDate: string; newPin: string };
  changePin?: { pin: string; newPin: string };
  /** The card handed back: its balance to the bank account, the card terminated. */
  cardReturn?: { pin: string };
  /** What became of an earlier command of this terminal. */
  status?: { commandId: string };
}

/** The PosCommand on the wire: each PIN encrypted into a PIN block bound to this terminal and command. */
export function encodePosCommand(terminal: PosTerminal, input: PosCommandInput): Uint8Array {
  const { load, refund, unblockPin, changePin, replacementCredit, cardReturn, ...rest } = input;
  const command: cardsys.v1.PosCommand.$Properties = { ...rest, storeId: terminal.storeId };
  const pinBlock = (pin: string) => {
    if (!terminal.pinKey) throw new Error(`terminal ${terminal.terminalId} has no PIN key: it cannot send a PIN`);
    return encryptPinBlock(terminal.pinKey, pin, {
      storeId: terminal.storeId,
      terminalId: terminal.terminalId,
      commandId: input.commandId,
    });
  };
  if (load) command.load = { amount: load.amount, pinBlock: pinBlock(load.pin) };
  if (refund) command.refund = { payEventId: refund.payEventId, amount: refund.amount ?? 0, pinBlock: pinBlock(refund.pin) };
  if (unblockPin) command.unblockPin = { name: unblockPin.name, birthDate: unblockPin.birthDate, newPinBlock: pinBlock(unblockPin.newPin) };
  if (changePin) command.changePin = { pinBlock: pinBlock(changePin.pin), newPinBlock: pinBlock(changePin.newPin) };
  if (replacementCredit) command.replacementCredit = { pinBlock: pinBlock(replacementCredit.pin) };
  if (cardReturn) command.cardReturn = { pinBlock: pinBlock(cardReturn.pin) };
  return pb.PosCommand.encode(command).finish();
}

export async function sendPosCommand(
  nc: NatsConnection,
  terminal: PosTerminal,
  input: PosCommandInput,
  options: SendOptions = {},
): Promise<PosReply> {
  const bytes = encodePosCommand(terminal, input);
  const attempts = options.attempts ?? 3;
  const inboxPrefix = inboxPrefixOf({ role: 'pos', storeId: terminal.storeId, terminalId: terminal.terminalId });
  const timeoutMs = options.timeoutMs ?? 10_000;
  let lastError: Error | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const started = Date.now();
    for (;;) {
      try {
        const reply = createInbox(inboxPrefix);
        const message = await nc.request(subjects.pos(terminal.storeId, terminal.terminalId), bytes, {
          timeout: Math.max(1, timeoutMs - (Date.now() - started)),
          noMux: true,
          reply,
        });
        return decodePosReply(message.data);
      } catch (error) {
        lastError = error as Error;
        // No one listens (the edge is starting or reconnecting): the command did not arrive, so it
        // is sent again within the same attempt's time.
        const unheard = error instanceof RequestError && error.isNoResponders();
        if (!unheard || Date.now() - started + NO_RESPONDERS_RETRY_MS >= timeoutMs) break;
        await new Promise((settle) => setTimeout(settle, NO_RESPONDERS_RETRY_MS));
      }
    }
  }
  throw new Error(
    `no answer from store ${terminal.storeId} to terminal ${terminal.terminalId} after ${attempts} attempt(s): ${lastError?.message ?? 'unknown error'}`,
  );
}

export function decodePosReply(bytes: Uint8Array): PosReply {
  return decodeOrThrow('PosReply', () => pb.PosReply.decode(bytes));
}
