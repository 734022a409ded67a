import { ascii, concat, equalBytes, readU32, u32 } from '../crypto/bytes.js';
import { encodeResponseApdu, MalformedApduError, parseCommandApdu, SW, swTriesLeft, type CommandApdu } from './apdu.js';
import {
  AID,
  CHANGE_PIN_DATA_LENGTH,
  CREDIT_DATA_LENGTH,
  DATA_OBJECT,
  DEBIT_DATA_LENGTH,
  FILE,
  INIT_TAG,
  INS,
  KEY_REF,
  LAST_CHUNK,
  LOG_RECORD_LENGTH,
  MAX_PERSONAL_RECORD,
  PERSONAL_TAG,
  PIN_FIELD_FILL,
  PIN_FIELD_LENGTH,
  PIN_REFERENCE,
  READ_BLOCK,
  RESET_RETRY_DATA_LENGTH,
  TERMINATE_DATA_LENGTH,
} from './commands.js';
import {
  creditAuthorisationMac,
  operationCode,
  pinUnblockMac,
  purseDataMac,
  terminationAuthorisationMac,
  transactionMac,
  type PurseOperation,
} from './purse-macs.js';
import {
  cardCryptogram,
  deriveSessionKeys,
  protectResponse,
  SM_CLA_BIT,
  terminalCryptogram,
  unprotectCommand,
  type SessionKeys,
} from './secure-messaging.js';
import {
  LIFECYCLE_CODE,
  LOG_CAPACITY,
  MAX_BALANCE,
  MAX_PIN_TRIES,
  REMEMBERED_AUTHORISATIONS,
  type CardState,
  type Issued,
  type LogEntry,
} from './state.js';
import { decodeTlv } from './tlv.js';

/** What the chip keeps in RAM: lost at power-off or reset. */
export interface ChipSession {
  readonly selected: boolean;
  readonly challenge: Uint8Array | undefined;
  readonly auth: { readonly keyRef: number; readonly keys: SessionKeys } | undefined;
  readonly pinVerified: boolean;
  /** Response data kept for GET RESPONSE after a 61xx. */
  readonly pending: Uint8Array | undefined;
  /** PERSONALISE chunks received so far. */
  readonly personalChunks: { readonly next: number; readonly data: Uint8Array } | undefined;
}

export const POWER_ON_SESSION: ChipSession = {
  selected: false,
  challenge: undefined,
  auth: undefined,
  pinVerified: false,
  pending: undefined,
  personalChunks: undefined,
};

export interface ChipStep {
  readonly state: CardState;
  readonly session: ChipSession;
  readonly response: Uint8Array;
  /** True when `state` differs from the input: it must be stored durably before `response` leaves the card. */
  readonly commit: boolean;
}

export type RandomSource = (length: number) => Uint8Array;

interface Outcome {
  readonly sw: number;
  readonly data?: Uint8Array;
  readonly state?: CardState;
  readonly session?: ChipSession;
}

interface Context {
  readonly state: CardState;
  readonly session: ChipSession;
  readonly apdu: CommandApdu;
  /** Command data, already unwrapped when it came under secure messaging. */
  readonly data: Uint8Array;
  readonly secured: boolean;
  readonly random: RandomSource;
}

/** plain: with or without secure messaging; clear: without only; terminal / transport: under SM opened with that key. */
type Access = 'plain' | 'clear' | 'terminal' | 'transport';

interface Command {
  readonly access: Access;
  readonly handle: (context: Context) => Outcome;
}

const status = (sw: number): Outcome => ({ sw });

/**
 * The purse application: one command APDU in, one response APDU out, over a serialisable state.
 * Pure: the caller persists `state` when `commit` is set, before releasing the response, so that a
 * card pulled mid-command keeps its previous state (commit/abort).
 */
export function processApdu(state: CardState, session: ChipSession, apduBytes: Uint8Array, random: RandomSource): ChipStep {
  const step = (outcome: Outcome, response: Uint8Array): ChipStep => ({
    state: outcome.state ?? state,
    session: outcome.session ?? session,
    response,
    commit: outcome.state !== undefined && outcome.state !== state,
  });
  let apdu: CommandApdu;
  try {
    apdu = parseCommandApdu(apduBytes);
  } catch (error) {
    if (error instanceof MalformedApduError)
      return step({ sw: SW.WRONG_LENGTH }, encodeResponseApdu({ data: new Uint8Array(0), sw: SW.WRONG_LENGTH }));
    throw error;
  }
  const outcome = dispatch(state, { ...session, pending: undefined }, apdu, random, session.pending);
  return step(outcome.outcome, outcome.response);
}

function dispatch(
  state: CardState,
  session: ChipSession,
  apdu: CommandApdu,
  random: RandomSource,
  pending: Uint8Array | undefined,
): { outcome: Outcome; response: Uint8Array } {
  const plainResponse = (outcome: Outcome) => ({
    outcome,
    response: encodeResponseApdu({ data: outcome.data ?? new Uint8Array(0), sw: outcome.sw }),
  });
  const claBase = apdu.cla & ~SM_CLA_BIT;
  if (claBase !== 0x00 && claBase !== 0x80) return plainResponse(status(SW.CLA_NOT_SUPPORTED));

  if (apdu.ins === INS.GET_RESPONSE && apdu.cla === 0x00) return plainResponse(getResponse(session, apdu, pending));
  if (apdu.ins === INS.SELECT && apdu.cla === 0x00) return plainResponse(withLe(select(apdu), apdu, session));
  if (!session.selected) return plainResponse(status(SW.CONDITIONS_NOT_SATISFIED));

  const command = COMMANDS.get(apdu.ins);
  if (!command) return plainResponse(status(SW.INS_NOT_SUPPORTED));
  // No command leaves the terminated state: the card still names itself, and keeps its last record.
  if (state.lifecycle === 'terminated' && apdu.ins !== INS.GET_DATA) return plainResponse(status(SW.TERMINATED));

  if ((apdu.cla & SM_CLA_BIT) === 0) {
    if (command.access !== 'plain' && command.access !== 'clear') return plainResponse(status(SW.SECURITY_STATUS_NOT_SATISFIED));
    const outcome = command.handle({ state, session, apdu, data: apdu.data, secured: false, random });
    return plainResponse(withLe(outcome, apdu, outcome.session ?? session));
  }

  // Secure messaging: verify and decrypt, run the command, protect the answer.
  const auth = session.auth;
  if (!auth) return plainResponse(status(SW.SECURITY_STATUS_NOT_SATISFIED));
  const opened = unprotectCommand(auth.keys, apdu);
  if (!opened) return plainResponse({ sw: SW.SM_DATA_INCORRECT, session: { ...session, auth: undefined, pinVerified: false } });
  const inSession: ChipSession = { ...session, auth: { keyRef: auth.keyRef, keys: opened.keys } };
  const allowed =
    command.access === 'plain' ||
    (command.access === 'terminal' && auth.keyRef === KEY_REF.TERMINAL) ||
    (command.access === 'transport' && auth.keyRef === KEY_REF.TRANSPORT);
  const outcome: Outcome = allowed
    ? command.handle({ state, session: inSession, apdu, data: opened.data, secured: true, random })
    : status(SW.SECURITY_STATUS_NOT_SATISFIED);
  // The answer is protected with the session it was asked in, even when the command ends that session.
  const sealed = protectResponse(opened.keys, outcome.data ?? new Uint8Array(0), outcome.sw);
  const after = outcome.session ?? inSession;
  const finalSession: ChipSession = after.auth ? { ...after, auth: { keyRef: after.auth.keyRef, keys: sealed.keys } } : after;
  return { outcome: { ...outcome, session: finalSession }, response: encodeResponseApdu({ data: sealed.data, sw: outcome.sw }) };
}

/** Le handling for plain responses: 6Cxx when Le is too short, 61xx (GET RESPONSE) when Le was absent. */
function withLe(outcome: Outcome, apdu: CommandApdu, session: ChipSession): Outcome {
  const data = outcome.data;
  if (!data || data.length === 0 || outcome.sw !== SW.OK) return outcome;
  if (apdu.le === undefined) {
    if (apdu.ins === INS.SELECT) return { ...outcome, data: undefined };
    return { ...outcome, data: undefined, sw: 0x6100 | (data.length & 0xff), session: { ...session, pending: data } };
  }
  if (apdu.le < data.length) return { ...outcome, data: undefined, sw: 0x6c00 | (data.length & 0xff) };
  return outcome;
}

function getResponse(session: ChipSession, apdu: CommandApdu, pending: Uint8Array | undefined): Outcome {
  if (!pending) return status(SW.CONDITIONS_NOT_SATISFIED);
  const le = apdu.le ?? 256;
  if (le < pending.length) return { sw: 0x6c00 | (pending.length & 0xff), session: { ...session, pending } };
  return { sw: SW.OK, data: pending };
}

function select(apdu: CommandApdu): Outcome {
  if (apdu.p1 !== 0x04 || apdu.p2 !== 0x00) return status(SW.WRONG_P1P2);
  if (!equalBytes(apdu.data, AID)) return { sw: SW.FILE_NOT_FOUND, session: { ...POWER_ON_SESSION } };
  // FCI: 6F { 84 AID }
  const fci = concat(Uint8Array.of(0x6f, AID.length + 2, 0x84, AID.length), AID);
  return { sw: SW.OK, data: fci, session: { ...POWER_ON_SESSION, selected: true } };
}

function issuedOrNull(state: CardState): Issued | undefined {
  return state.lifecycle === 'blank' ? undefined : state.issued;
}

function withIssued(state: CardState, issued: Issued): CardState {
  return { ...state, issued };
}

/** GET DATA: P1 00, P2 the data object. */
function getData(context: Context): Outcome {
  if (context.apdu.p1 !== 0x00) return status(SW.WRONG_P1P2);
  if (context.apdu.p2 === DATA_OBJECT.SYSTEM_INFO) return systemInfo(context);
  if (context.apdu.p2 === DATA_OBJECT.PIN_STATUS) return pinStatus(context);
  if (context.apdu.p2 === DATA_OBJECT.TERMINATION_RECORD) return terminationRecord(context);
  return status(SW.WRONG_P1P2);
}

/**
 * The unload a terminated card made, as its newest log record: plain, so that a terminal that lost
 * TERMINATE CARD USAGE's answer (card pulled) can still show head office the card's MAC over it.
 */
function terminationRecord({ state, data }: Context): Outcome {
  if (data.length !== 0) return status(SW.WRONG_LENGTH);
  const unload = state.lifecycle === 'terminated' ? state.issued?.log[0] : undefined;
  if (!unload) return status(SW.REFERENCED_DATA_NOT_FOUND);
  return { sw: SW.OK, data: encodeLogEntry(unload) };
}

function systemInfo({ state, data }: Context): Outcome {
  if (data.length !== 0) return status(SW.WRONG_LENGTH);
  const issued = issuedOrNull(state);
  const info = concat(
    issued?.cardId ?? new Uint8Array(8),
    Uint8Array.of(LIFECYCLE_CODE[state.lifecycle], issued?.keyVersion ?? 0),
    ascii(issued?.expiry ?? '000000'),
    issued?.authCode ?? new Uint8Array(8),
  );
  return { sw: SW.OK, data: info };
}

function getChallenge({ session, apdu, random }: Context): Outcome {
  if (apdu.data.length !== 0 || apdu.le !== 16) return status(SW.WRONG_LENGTH);
  const challenge = random(16);
  return { sw: SW.OK, data: challenge, session: { ...session, challenge, auth: undefined, pinVerified: false } };
}

function mutualAuthenticate({ state, session, apdu }: Context): Outcome {
  if (apdu.p1 !== 0x00) return status(SW.WRONG_P1P2);
  if (apdu.data.length !== 32) return status(SW.WRONG_LENGTH);
  const challenge = session.challenge;
  const cleared: ChipSession = { ...session, challenge: undefined, auth: undefined, pinVerified: false };
  if (!challenge) return { sw: SW.CONDITIONS_NOT_SATISFIED, session: cleared };
  let key: Uint8Array;
  if (apdu.p2 === KEY_REF.TRANSPORT) {
    if (state.lifecycle !== 'blank') return { sw: SW.CONDITIONS_NOT_SATISFIED, session: cleared };
    key = state.transportKey;
  } else if (apdu.p2 === KEY_REF.TERMINAL) {
    const issued = issuedOrNull(state);
    if (!issued) return { sw: SW.CONDITIONS_NOT_SATISFIED, session: cleared };
    key = issued.keys.terminal;
  } else {
    return { sw: SW.REFERENCED_DATA_NOT_FOUND, session: cleared };
  }
  const rndTerminal = apdu.data.subarray(0, 16);
  if (!equalBytes(apdu.data.subarray(16), terminalCryptogram(key, rndTerminal, challenge))) {
    return { sw: SW.AUTHENTICATION_FAILED, session: cleared };
  }
  return {
    sw: SW.OK,
    data: cardCryptogram(key, rndTerminal, challenge),
    session: { ...cleared, auth: { keyRef: apdu.p2, keys: deriveSessionKeys(key, rndTerminal, challenge) } },
  };
}

function initialise({ state, session, data }: Context): Outcome {
  if (state.lifecycle !== 'blank') return status(SW.CONDITIONS_NOT_SATISFIED);
  const tlv = decodeTlv(data);
  const field = (tag: number, length?: number) => {
    const value = tlv?.get(tag);
    return value && (length === undefined || value.length === length) ? value : undefined;
  };
  const cardId = field(INIT_TAG.CARD_ID, 8);
  const keyVersion = field(INIT_TAG.KEY_VERSION, 1);
  const expiry = field(INIT_TAG.EXPIRY, 6);
  const authCode = field(INIT_TAG.AUTH_CODE, 8);
  const pin = field(INIT_TAG.PIN);
  const bankId = field(INIT_TAG.BANK_ID, 14);
  const keys = [INIT_TAG.KEY_TERMINAL, INIT_TAG.KEY_DATA, INIT_TAG.KEY_CREDIT, INIT_TAG.KEY_TRANSACTION].map((tag) => field(tag, 16));
  const [terminal, dataKey, credit, transaction] = keys;
  if (!cardId || !keyVersion || !expiry || !authCode || !pin || !bankId || !terminal || !dataKey || !credit || !transaction) {
    return status(SW.WRONG_DATA);
  }
  const text = new TextDecoder();
  const pinText = text.decode(pin);
  const expiryText = text.decode(expiry);
  const bankText = text.decode(bankId);
  if (!/^\d{4,8}$/.test(pinText) || !/^\d{6}$/.test(expiryText) || !/^\d{14}$/.test(bankText)) return status(SW.WRONG_DATA);
  const issued: Issued = {
    cardId,
    keyVersion: keyVersion[0]!,
    expiry: expiryText,
    authCode,
    keys: { terminal, data: dataKey, credit, transaction },
    pin: pinText,
    pinTriesLeft: MAX_PIN_TRIES,
    pinResets: 0,
    bankId: bankText,
    personal: undefined,
    balance: 0,
    counter: 0,
    dataMac: purseDataMac(dataKey, cardId, 0, 0),
    log: [],
    usedAuthorisations: [],
  };
  // The transport session ends with initialisation: the card now only answers its own keys.
  return {
    sw: SW.OK,
    state: { lifecycle: 'primary-issued', transportKey: state.transportKey, issued },
    session: { ...session, auth: undefined },
  };
}

/** Terminal session only: the balance, counter and usage are the holder's, never a third party's to read. */
function getBalance({ state, apdu, data }: Context): Outcome {
  if (apdu.p1 !== 0x00 || apdu.p2 !== 0x00) return status(SW.WRONG_P1P2);
  if (data.length !== 0) return status(SW.WRONG_LENGTH);
  const issued = issuedOrNull(state);
  if (!issued) return status(SW.CONDITIONS_NOT_SATISFIED);
  // Returned exactly as stored, so the terminal can check the data MAC itself.
  return { sw: SW.OK, data: concat(u32(issued.balance), u32(issued.counter), issued.dataMac) };
}

function readData({ state, apdu, data }: Context): Outcome {
  if (data.length !== 0) return status(SW.WRONG_LENGTH);
  const issued = issuedOrNull(state);
  if (!issued) return status(SW.CONDITIONS_NOT_SATISFIED);
  let file: Uint8Array;
  if (apdu.p1 === FILE.BANK) file = ascii(issued.bankId);
  else if (apdu.p1 === FILE.PERSONAL) {
    if (!issued.personal) return status(SW.REFERENCED_DATA_NOT_FOUND);
    file = issued.personal;
  } else return status(SW.FILE_NOT_FOUND);
  return { sw: SW.OK, data: file.slice(apdu.p2 * READ_BLOCK, (apdu.p2 + 1) * READ_BLOCK) };
}

function readRecord({ state, apdu, data }: Context): Outcome {
  if (apdu.p2 !== 0x00) return status(SW.WRONG_P1P2);
  if (data.length !== 0) return status(SW.WRONG_LENGTH);
  const issued = issuedOrNull(state);
  if (!issued) return status(SW.CONDITIONS_NOT_SATISFIED);
  const entry = apdu.p1 >= 1 ? issued.log[apdu.p1 - 1] : undefined;
  if (!entry) return status(SW.RECORD_NOT_FOUND);
  return { sw: SW.OK, data: encodeLogEntry(entry) };
}

function encodeLogEntry(entry: LogEntry): Uint8Array {
  const record = concat(
    Uint8Array.of(operationCode(entry.operation)),
    u32(entry.amount),
    u32(entry.counter),
    u32(entry.balanceAfter),
    u32(entry.time),
    entry.terminalId,
    entry.mac,
  );
  if (record.length !== LOG_RECORD_LENGTH) throw new Error('log record layout mismatch');
  return record;
}

/** Like the balance, the PIN's tries left and reset counter are the holder's: shown under a terminal session only. */
function pinStatus({ state, session, data, secured }: Context): Outcome {
  if (!secured || session.auth?.keyRef !== KEY_REF.TERMINAL) return status(SW.SECURITY_STATUS_NOT_SATISFIED);
  if (data.length !== 0) return status(SW.WRONG_LENGTH);
  const issued = issuedOrNull(state);
  if (!issued) return status(SW.CONDITIONS_NOT_SATISFIED);
  return { sw: SW.OK, data: concat(Uint8Array.of(issued.pinTriesLeft), u32(issued.pinResets)) };
}

/**
 * A PIN presented to the card: a wrong one uses up a try (committed before the answer), the right
 * one sets the tries back to 3; once blocked, every PIN is refused with 6983.
 */
function checkPin(state: CardState, issued: Issued, pin: Uint8Array): Outcome {
  if (issued.pinTriesLeft === 0) return status(SW.AUTH_METHOD_BLOCKED);
  if (!equalBytes(pin, ascii(issued.pin))) {
    const pinTriesLeft = issued.pinTriesLeft - 1;
    return {
      sw: pinTriesLeft === 0 ? SW.AUTH_METHOD_BLOCKED : swTriesLeft(pinTriesLeft),
      state: withIssued(state, { ...issued, pinTriesLeft }),
    };
  }
  return {
    sw: SW.OK,
    state: issued.pinTriesLeft === MAX_PIN_TRIES ? state : withIssued(state, { ...issued, pinTriesLeft: MAX_PIN_TRIES }),
  };
}

function verifyPin({ state, session, apdu, data }: Context): Outcome {
  if (apdu.p1 !== 0x00 || apdu.p2 !== PIN_REFERENCE) return status(SW.WRONG_P1P2);
  if (data.length < 4 || data.length > 8) return status(SW.WRONG_LENGTH);
  const issued = issuedOrNull(state);
  if (!issued) return status(SW.CONDITIONS_NOT_SATISFIED);
  const checked = checkPin(state, issued, data);
  return { ...checked, session: { ...session, pinVerified: checked.sw === SW.OK } };
}

/** A PIN field of RESET RETRY COUNTER or CHANGE REFERENCE DATA: 4-8 ASCII digits, then FF; undefined when malformed. */
function pinField(field: Uint8Array): string | undefined {
  const fill = field.indexOf(PIN_FIELD_FILL);
  const length = fill === -1 ? PIN_FIELD_LENGTH : fill;
  if (field.subarray(length).some((byte) => byte !== PIN_FIELD_FILL)) return undefined;
  const pin = new TextDecoder().decode(field.subarray(0, length));
  return /^\d{4,8}$/.test(pin) ? pin : undefined;
}

/**
 * RESET RETRY COUNTER: head office's unblock MAC over (card id, PIN reset counter, authorisation
 * id) sets a new PIN and three tries. Whatever the outcome, the session holds no verified PIN: the
 * new PIN is verified like any other before a credit.
 */
function resetRetryCounter({ state, session, apdu, data }: Context): Outcome {
  if (apdu.p1 !== 0x00 || apdu.p2 !== PIN_REFERENCE) return status(SW.WRONG_P1P2);
  if (data.length !== RESET_RETRY_DATA_LENGTH) return status(SW.WRONG_LENGTH);
  const issued = issuedOrNull(state);
  // The reset counter never wraps: an exhausted one takes no more unblocks.
  if (!issued || issued.pinResets === 0xffffffff) return status(SW.CONDITIONS_NOT_SATISFIED);
  const cleared: ChipSession = { ...session, pinVerified: false };
  const authorisationId = data.slice(0, 8);
  const unblockMac = data.slice(8, 16);
  const pin = pinField(data.subarray(16, 24));
  if (pin === undefined) return { sw: SW.WRONG_DATA, session: cleared };
  if (issued.usedAuthorisations.some((used) => equalBytes(used, authorisationId)))
    return { sw: SW.REFERENCE_DATA_NOT_USABLE, session: cleared };
  if (!equalBytes(unblockMac, pinUnblockMac(issued.keys.credit, issued.cardId, issued.pinResets, authorisationId)))
    return { sw: SW.AUTHENTICATION_FAILED, session: cleared };
  const usedAuthorisations = [authorisationId, ...issued.usedAuthorisations].slice(0, REMEMBERED_AUTHORISATIONS);
  return {
    sw: SW.OK,
    state: withIssued(state, { ...issued, pin, pinTriesLeft: MAX_PIN_TRIES, pinResets: issued.pinResets + 1, usedAuthorisations }),
    session: cleared,
  };
}

/**
 * CHANGE REFERENCE DATA: the old PIN (counted like VERIFY PIN), then the new one. Whatever the
 * outcome, the session holds no verified PIN: the one verified before may no longer be the PIN.
 */
function changePin({ state, session, apdu, data }: Context): Outcome {
  if (apdu.p1 !== 0x00 || apdu.p2 !== PIN_REFERENCE) return status(SW.WRONG_P1P2);
  if (data.length !== CHANGE_PIN_DATA_LENGTH) return status(SW.WRONG_LENGTH);
  const issued = issuedOrNull(state);
  if (!issued) return status(SW.CONDITIONS_NOT_SATISFIED);
  const cleared: ChipSession = { ...session, pinVerified: false };
  const oldPin = pinField(data.subarray(0, PIN_FIELD_LENGTH));
  const newPin = pinField(data.subarray(PIN_FIELD_LENGTH));
  if (oldPin === undefined || newPin === undefined) return { sw: SW.WRONG_DATA, session: cleared };
  const checked = checkPin(state, issued, ascii(oldPin));
  if (checked.sw !== SW.OK) return { ...checked, session: cleared };
  return { sw: SW.OK, state: withIssued(state, { ...issued, pin: newPin, pinTriesLeft: MAX_PIN_TRIES }), session: cleared };
}

function personalise({ state, session, apdu, data }: Context): Outcome {
  if (apdu.p2 !== FILE.PERSONAL) return status(SW.WRONG_P1P2);
  const issued = issuedOrNull(state);
  if (!issued || state.lifecycle !== 'primary-issued')
    return { sw: SW.CONDITIONS_NOT_SATISFIED, session: { ...session, personalChunks: undefined } };
  const chunk = apdu.p1 & ~LAST_CHUNK;
  const previous = chunk === 0 ? new Uint8Array(0) : session.personalChunks?.next === chunk ? session.personalChunks.data : undefined;
  if (!previous) return { sw: SW.WRONG_P1P2, session: { ...session, personalChunks: undefined } };
  const record = concat(previous, data);
  if (record.length > MAX_PERSONAL_RECORD) return { sw: SW.WRONG_LENGTH, session: { ...session, personalChunks: undefined } };
  if ((apdu.p1 & LAST_CHUNK) === 0) return { sw: SW.OK, session: { ...session, personalChunks: { next: chunk + 1, data: record } } };

  const done: ChipSession = { ...session, personalChunks: undefined };
  const fields = decodeTlv(record);
  const name = fields?.get(PERSONAL_TAG.NAME);
  const bankId = fields?.get(PERSONAL_TAG.BANK_ID);
  if (!fields || !name || name.length === 0 || !bankId) return { sw: SW.WRONG_DATA, session: done };
  // The record must belong to this card's account: written for another customer, it is refused.
  if (!equalBytes(bankId, ascii(issued.bankId))) return { sw: SW.WRONG_DATA, session: done };
  return { sw: SW.OK, session: done, state: { ...state, lifecycle: 'secondary-issued', issued: { ...issued, personal: record } } };
}

interface PurseRequest {
  readonly operation: PurseOperation;
  readonly amount: number;
  readonly terminalId: Uint8Array;
  readonly time: number;
}

/** Checks shared by CREDIT, DEBIT and TERMINATE CARD USAGE: an issued card whose stored balance still matches its data MAC. */
function purseReady(state: CardState): Issued | Outcome {
  const issued = issuedOrNull(state);
  if (!issued) return status(SW.CONDITIONS_NOT_SATISFIED);
  if (!equalBytes(issued.dataMac, purseDataMac(issued.keys.data, issued.cardId, issued.balance, issued.counter))) {
    return status(SW.MEMORY_FAILURE);
  }
  // The counter never wraps: a card whose counter is exhausted takes no more purse operations.
  if (issued.counter === 0xffffffff) return status(SW.CONDITIONS_NOT_SATISFIED);
  return issued;
}

function applyPurse(state: CardState, issued: Issued, request: PurseRequest, newBalance: number, extra: Partial<Issued> = {}): Outcome {
  const counter = issued.counter + 1;
  const mac = transactionMac(
    issued.keys.transaction,
    request.operation,
    issued.cardId,
    counter,
    request.amount,
    newBalance,
    request.terminalId,
  );
  const entry: LogEntry = {
    operation: request.operation,
    amount: request.amount,
    counter,
    balanceAfter: newBalance,
    time: request.time,
    terminalId: request.terminalId,
    mac,
  };
  const next: Issued = {
    ...issued,
    ...extra,
    balance: newBalance,
    counter,
    dataMac: purseDataMac(issued.keys.data, issued.cardId, newBalance, counter),
    log: [entry, ...issued.log].slice(0, LOG_CAPACITY),
  };
  return { sw: SW.OK, state: withIssued(state, next), data: concat(u32(newBalance), u32(counter), mac) };
}

function credit({ state, session, apdu, data }: Context): Outcome {
  if (apdu.p1 !== 0x00 || apdu.p2 !== 0x00) return status(SW.WRONG_P1P2);
  if (data.length !== CREDIT_DATA_LENGTH) return status(SW.WRONG_LENGTH);
  const ready = purseReady(state);
  if (!('cardId' in ready)) return ready;
  if (!session.pinVerified) return status(SW.SECURITY_STATUS_NOT_SATISFIED);
  const amount = readU32(data, 0);
  const authorisationId = data.slice(4, 12);
  const authorisationMac = data.slice(12, 20);
  const request: PurseRequest = { operation: 'credit', amount, terminalId: data.slice(20, 28), time: readU32(data, 28) };
  if (amount === 0) return status(SW.WRONG_DATA);
  if (ready.usedAuthorisations.some((used) => equalBytes(used, authorisationId))) return status(SW.REFERENCE_DATA_NOT_USABLE);
  const expected = creditAuthorisationMac(ready.keys.credit, ready.cardId, ready.counter, amount, authorisationId);
  if (!equalBytes(authorisationMac, expected)) return status(SW.AUTHENTICATION_FAILED);
  if (ready.balance + amount > MAX_BALANCE) return status(SW.NOT_ENOUGH_MEMORY);
  const usedAuthorisations = [authorisationId, ...ready.usedAuthorisations].slice(0, REMEMBERED_AUTHORISATIONS);
  return applyPurse(state, ready, request, ready.balance + amount, { usedAuthorisations });
}

function debit({ state, apdu, data }: Context): Outcome {
  if (apdu.p1 !== 0x00 || apdu.p2 !== 0x00) return status(SW.WRONG_P1P2);
  if (data.length !== DEBIT_DATA_LENGTH) return status(SW.WRONG_LENGTH);
  const ready = purseReady(state);
  if (!('cardId' in ready)) return ready;
  const amount = readU32(data, 0);
  if (amount === 0) return status(SW.WRONG_DATA);
  if (amount > ready.balance) return status(SW.CONDITIONS_NOT_SATISFIED);
  return applyPurse(
    state,
    ready,
    { operation: 'debit', amount, terminalId: data.slice(4, 12), time: readU32(data, 12) },
    ready.balance - amount,
  );
}

/**
 * TERMINATE CARD USAGE: with head office's consent for this card at its current counter, the whole
 * balance leaves the purse (an unload, logged and MACed like a debit) and the card enters its last
 * state, in one atomic commit. No PIN: the money can only go where head office sends it.
 */
function terminate({ state, apdu, data }: Context): Outcome {
  if (apdu.p1 !== 0x00 || apdu.p2 !== 0x00) return status(SW.WRONG_P1P2);
  if (data.length !== TERMINATE_DATA_LENGTH) return status(SW.WRONG_LENGTH);
  const ready = purseReady(state);
  if (!('cardId' in ready)) return ready;
  const expected = terminationAuthorisationMac(ready.keys.credit, ready.cardId, ready.counter);
  if (!equalBytes(data.subarray(0, 8), expected)) return status(SW.AUTHENTICATION_FAILED);
  const amount = ready.balance;
  const unloaded = applyPurse(state, ready, { operation: 'unload', amount, terminalId: data.slice(8, 16), time: readU32(data, 16) }, 0);
  const after = unloaded.state!;
  const unload = after.issued!.log[0]!;
  return {
    sw: SW.OK,
    state: { ...after, lifecycle: 'terminated' },
    data: concat(u32(amount), u32(unload.counter), unload.mac),
  };
}

const COMMANDS = new Map<number, Command>([
  [INS.GET_DATA, { access: 'plain', handle: getData }],
  [INS.GET_CHALLENGE, { access: 'clear', handle: getChallenge }],
  [INS.MUTUAL_AUTHENTICATE, { access: 'clear', handle: mutualAuthenticate }],
  [INS.GET_BALANCE, { access: 'terminal', handle: getBalance }],
  [INS.INITIALISE, { access: 'transport', handle: initialise }],
  [INS.READ_DATA, { access: 'terminal', handle: readData }],
  [INS.READ_RECORD, { access: 'terminal', handle: readRecord }],
  [INS.VERIFY_PIN, { access: 'terminal', handle: verifyPin }],
  [INS.PERSONALISE, { access: 'terminal', handle: personalise }],
  [INS.CREDIT, { access: 'terminal', handle: credit }],
  [INS.DEBIT, { access: 'terminal', handle: debit }],
  [INS.TERMINATE, { access: 'terminal', handle: terminate }],
  [INS.RESET_RETRY_COUNTER, { access: 'terminal', handle: resetRetryCounter }],
  [INS.CHANGE_REFERENCE_DATA, { access: 'terminal', handle: changePin }],
]);
