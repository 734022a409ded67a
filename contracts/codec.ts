import './protobuf-numbers.js';
import { cardsys } from './generated/cardsys.js';
import { HQ_ORIGIN } from './subjects.js';

/** The generated protobuf messages of package cardsys.v1. */
export const pb = cardsys.v1;
export type { cardsys };

/** The data fields of a generated message class: no methods, no unknown-field bookkeeping. */
export type Fields<T> = {
  [K in keyof T as T[K] extends (...args: never[]) => unknown ? never : K extends '$unknowns' ? never : K]: T[K];
};

export type EventEnvelope = Fields<cardsys.v1.EventEnvelope>;
export type ChainHead = Fields<cardsys.v1.ChainHead>;
export type EventBatch = Fields<cardsys.v1.EventBatch>;
export type StoreAck = Fields<cardsys.v1.StoreAck>;
export type ChainHeadReceived = Fields<cardsys.v1.ChainHeadReceived>;
export type PosCommand = cardsys.v1.PosCommand.$Properties;
export type PosReply = Fields<cardsys.v1.PosReply>;

/** Every domain event message, by the name carried in EventEnvelope.event_type. */
const eventMessages = {
  UserRegistered: pb.UserRegistered,
  CardPrimaryIssued: pb.CardPrimaryIssued,
  CardIssued: pb.CardIssued,
  CardIssueRejected: pb.CardIssueRejected,
  PurseLoaded: pb.PurseLoaded,
  PursePaid: pb.PursePaid,
  PurseOperationDeclined: pb.PurseOperationDeclined,
  CardBlacklisted: pb.CardBlacklisted,
  CardReinstated: pb.CardReinstated,
  BankAccountOpened: pb.BankAccountOpened,
  BankAccountDebited: pb.BankAccountDebited,
  StoreRegistered: pb.StoreRegistered,
  StoreKeyRegistered: pb.StoreKeyRegistered,
  HeadOfficeWriterStarted: pb.HeadOfficeWriterStarted,
  LoadAuthorised: pb.LoadAuthorised,
  LoadAuthorisationHandedOver: pb.LoadAuthorisationHandedOver,
  LoadAuthorisationCompleted: pb.LoadAuthorisationCompleted,
  LoadAuthorisationReversed: pb.LoadAuthorisationReversed,
  PurseCreditStarted: pb.PurseCreditStarted,
  ApiAccessRecorded: pb.ApiAccessRecorded,
  StoreBatchRefused: pb.StoreBatchRefused,
  LoadOverdue: pb.LoadOverdue,
  StoreClaimRefused: pb.StoreClaimRefused,
  StoreDayClosed: pb.StoreDayClosed,
  AlertResolved: pb.AlertResolved,
  UnloadAuthorised: pb.UnloadAuthorised,
  PurseUnloaded: pb.PurseUnloaded,
  BankAccountCredited: pb.BankAccountCredited,
  CardClosed: pb.CardClosed,
  PinUnblockAuthorised: pb.PinUnblockAuthorised,
  PinUnblockRefused: pb.PinUnblockRefused,
  PinUnblocked: pb.PinUnblocked,
  PinChanged: pb.PinChanged,
  PurseRefunded: pb.PurseRefunded,
  RefundAuthorised: pb.RefundAuthorised,
  RefundCompleted: pb.RefundCompleted,
  RefundReversed: pb.RefundReversed,
  CardReportedLost: pb.CardReportedLost,
  CardReplacementIssued: pb.CardReplacementIssued,
  CardBalanceTransferred: pb.CardBalanceTransferred,
  CardReplacementAdjusted: pb.CardReplacementAdjusted,
} as const;

export type EventType = keyof typeof eventMessages;

/**
 * Who may write each event type: a store (its own purse movements, issuances, PIN changes and
 * unblocks at its counter) or head office alone (registrations, bank accounts, load and refund
 * authorisations, the blacklist, keys, evidence, the books' settlement statements and overdue loads,
 * PIN unblock decisions). Ingest refuses a store's batch carrying a head-office type, the decoder of stored
 * records passes over an event outside its origin's types, and the audit reports one.
 */
const EVENT_WRITER = {
  UserRegistered: 'hq',
  CardPrimaryIssued: 'hq',
  CardIssued: 'store',
  CardIssueRejected: 'store',
  PurseLoaded: 'store',
  PursePaid: 'store',
  PurseOperationDeclined: 'store',
  CardBlacklisted: 'hq',
  CardReinstated: 'hq',
  BankAccountOpened: 'hq',
  BankAccountDebited: 'hq',
  StoreRegistered: 'hq',
  StoreKeyRegistered: 'hq',
  LoadAuthorised: 'hq',
  LoadAuthorisationHandedOver: 'hq',
  LoadAuthorisationCompleted: 'hq',
  LoadAuthorisationReversed: 'hq',
  PurseCreditStarted: 'store',
  ApiAccessRecorded: 'hq',
  StoreBatchRefused: 'hq',
  HeadOfficeWriterStarted: 'hq',
  LoadOverdue: 'hq',
  StoreClaimRefused: 'hq',
  StoreDayClosed: 'hq',
  AlertResolved: 'hq',
  UnloadAuthorised: 'hq',
  PurseUnloaded: 'store',
  BankAccountCredited: 'hq',
  CardClosed: 'hq',
  PinUnblockAuthorised: 'hq',
  PinUnblockRefused: 'hq',
  PinUnblocked: 'store',
  PinChanged: 'store',
  PurseRefunded: 'store',
  RefundAuthorised: 'hq',
  RefundCompleted: 'hq',
  RefundReversed: 'hq',
  CardReportedLost: 'hq',
  CardReplacementIssued: 'hq',
  CardBalanceTransferred: 'hq',
  CardReplacementAdjusted: 'hq',
} as const satisfies Record<EventType, 'store' | 'hq'>;

/** Whether `origin` (a store id, or "hq" for head office) may write events of this type. */
export function mayWrite(origin: string, type: string): boolean {
  if (!isEventType(type)) return false;
  return EVENT_WRITER[type] === (origin === HQ_ORIGIN ? 'hq' : 'store');
}
type MessageOf<K extends EventType> = InstanceType<(typeof eventMessages)[K]>;
/** Input shape of an event's data: every field optional, as protobuf encodes defaults away. */
export type EventData<K extends EventType> = Parameters<(typeof eventMessages)[K]['encode']>[0];

/** A decoded domain event: its type name and its fields. */
export type DomainEvent = {
  [K in EventType]: { type: K; data: Fields<MessageOf<K>> };
}[EventType];
/** A domain event about to be encoded. */
export type NewDomainEvent = {
  [K in EventType]: { type: K; data: EventData<K> };
}[EventType];

/** Raised for bytes or names that do not follow the contracts; the message says what is wrong. */
export class ContractError extends Error {
  override name = 'ContractError';
}

export function isEventType(name: string): name is EventType {
  return Object.hasOwn(eventMessages, name);
}

export function encodeEvent(event: NewDomainEvent): Uint8Array {
  const message = eventMessages[event.type] as {
    encode(data: unknown): { finish(): Uint8Array };
  };
  return message.encode(event.data).finish();
}

export function decodeEvent(type: string, payload: Uint8Array): DomainEvent {
  if (!isEventType(type)) throw new ContractError(`unknown event type "${type}"`);
  // Called millions of times by an audit's replay: no closure or message string unless it fails.
  try {
    return { type, data: (eventMessages[type] as { decode(bytes: Uint8Array): unknown }).decode(payload) } as DomainEvent;
  } catch (error) {
    throw malformed(`${type} payload`, error);
  }
}

/** Runs a protobuf decode and turns its failure into a ContractError naming what was decoded. */
export function decodeOrThrow<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    throw malformed(what, error);
  }
}

const malformed = (what: string, error: unknown) => new ContractError(`malformed ${what}: ${(error as Error).message}`);

export const decodeEnvelope = (bytes: Uint8Array): EventEnvelope => decodeOrThrow('EventEnvelope', () => pb.EventEnvelope.decode(bytes));
export const encodeEnvelope = (envelope: cardsys.v1.EventEnvelope.$Properties): Uint8Array => pb.EventEnvelope.encode(envelope).finish();
export const decodeBatch = (bytes: Uint8Array): EventBatch => decodeOrThrow('EventBatch', () => pb.EventBatch.decode(bytes));
export const encodeBatch = (batch: cardsys.v1.EventBatch.$Properties): Uint8Array => pb.EventBatch.encode(batch).finish();
