// Secondary issuance at the store's POS: the customer inserts a card that head office initialised,
// and the store writes the customer's personal and bank data to it. Each branch of the flow is
// decided in domain/issuance; this file talks to the card, the issuance info and the local log.
import type { KeyObject } from 'node:crypto';
import { bankIdDigits, parseBankId } from '../../card/index.js';
import { HQ_ORIGIN, type NewDomainEvent } from '../../contracts/index.js';
import { seal } from '../../contracts/index.js';
import {
  ISSUANCE_MESSAGES,
  cardIssueRejected,
  cardIssued,
  judgeChip,
  judgeIssuanceEntry,
  judgeStripe,
  recoveredIssuance,
  rejectionCode,
  monthEnd,
  writtenRecordBytes,
  writtenRecordDigest,
  type IssueRejection,
  type PersonalisationRecord,
  type ChipFacts,
  type ChipIssuanceState,
} from '../../domain/index.js';
import {
  CardReaderError,
  CardRemovedError,
  CardStatusError,
  NoCardError,
  UnknownCardError,
  type CardInfo,
  type ChipTerminal,
} from '../../reader/index.js';
import type { EventLog } from '../log/index.js';
import { openChipTerminal, type CounterOptions, type PosOutcome, type PosRequest, type PosServer } from '../pos/index.js';
import type { Database } from 'better-sqlite3';
import type { IssuanceInfo } from './issuance-info.js';
import { SentIssuances } from './sent-issuances.js';
import type { Logger } from '../../infra/index.js';

/** What the issued record is sealed for; head office opens it with the same context. */
export const issuedRecordSealContext = { purpose: 'issued-record', recipient: HQ_ORIGIN };

export interface SecondaryIssuanceOptions extends CounterOptions {
  storeId: string;
  log: EventLog;
  /** edge.db: the personalisations this store sent and recorded. */
  db: Database;
  info: IssuanceInfo;
  /** Head office's X25519 public key: the written record is sealed to it. */
  hqSealingPublicKey: KeyObject;
  logger?: Logger;
}

const CHIP_STATES: Record<CardInfo['lifecycle'], ChipIssuanceState> = {
  blank: 'blank',
  'primary-issued': 'primary_issued',
  'secondary-issued': 'secondary_issued',
  terminated: 'terminated',
};

export class SecondaryIssuance {
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly sent: SentIssuances;

  constructor(private readonly options: SecondaryIssuanceOptions) {
    this.logger = options.logger ?? console;
    this.sent = new SentIssuances(options.db);
    this.now = options.now ?? (() => new Date());
  }

  register(pos: PosServer): void {
    pos.register('issue', (request) => this.issue(request));
  }

  /** Runs the flow on the card in the terminal's reader; never throws for card or network trouble. */
  async issue(request: PosRequest): Promise<PosOutcome> {
    try {
      return await this.flow(request);
    } catch (error) {
      return cardTrouble(error, request.terminalId);
    }
  }

  private async flow(request: PosRequest): Promise<PosOutcome> {
    const terminal = await openChipTerminal(this.options, request);
    await terminal.select();
    const info = await terminal.readInfo();
    const chip: ChipFacts = {
      cardId: info.cardId,
      authCodeValid: terminal.verifyAuthCode(info),
      state: CHIP_STATES[info.lifecycle],
      expiry: info.expiry ? monthEnd(info.expiry) : '',
    };

    // 1. Authentication code (and blank or expired cards); 2. already issued.
    const verdict = judgeChip(chip, this.now());
    if (verdict.outcome === 'card_unusable') return this.reject(request, chip, '', verdict.reason);
    if (verdict.outcome === 'already_issued') {
      await terminal.authenticate();
      const balance = await terminal.readBalance();
      const recovered = this.sent.recordedHere(chip.cardId) ? undefined : await this.recoverIssuance(request, terminal, chip);
      if (recovered) return { ...recovered, balance: balance.balance };
      return { ok: true, code: 'already_issued', message: verdict.message, cardId: chip.cardId, balance: balance.balance };
    }

    // 3. Bank ID from the stripe, checked against the chip; issuance info from the store's copy, then head office.
    await terminal.authenticate();
    const onChip = bankIdDigits(await terminal.readBankId());
    const bankId = this.options.stripeReader ? bankIdDigits(await this.options.stripeReader(request.terminalId)) : onChip;
    const stripeVerdict = judgeStripe({ ...chip, bankId: onChip }, bankId);
    if (stripeVerdict.outcome === 'card_unusable') return this.reject(request, chip, bankId, stripeVerdict.reason);
    const lookup = await this.options.info.find(bankId, chip.cardId);
    if (!lookup.found) this.logger.warn(`store ${this.options.storeId}: no issuance data for card ${chip.cardId}: ${lookup.detail}`);
    const decision = judgeIssuanceEntry(chip, lookup.found ? lookup.entry : undefined);
    if (decision.outcome === 'no_issuance_data') return this.reject(request, chip, bankId, 'no_issuance_data');
    if (decision.outcome === 'personal_data_too_long') return this.reject(request, chip, bankId, decision.outcome, decision.detail);

    // 4. Personal and bank data to the chip under secure messaging, noted first (a lost answer is found at the next insertion).
    const { record } = decision;
    this.sent.sending(chip.cardId);
    try {
      await terminal.personalise(
        {
          name: record.personal.name ?? '',
          address: record.personal.address ?? '',
          birthDate: record.personal.birthDate ?? '',
          occupation: record.personal.occupation ?? '',
          affiliation: record.personal.affiliation ?? '',
        },
        parseBankId(bankId),
      );
    } catch (error) {
      // The chip refused the record with a status word: nothing was written, and the reason is recorded.
      if (error instanceof CardStatusError) return this.reject(request, chip, bankId, 'record_refused_by_card', error.message);
      throw error;
    }

    // 5. What was written, minus secrets, in the local log; the record itself only sealed to head office.
    const source = lookup.found && lookup.source === 'head_office' ? ' (issuance data from head office)' : '';
    return this.recordIssued(request, chip, bankId, record, `${ISSUANCE_MESSAGES.issued}${source}`, false);
  }

  /**
   * A card already personalised that this store did not record: when head office (or, unreachable,
   * the store's copy) still lists it as waiting, no store recorded its issuance, so CardIssued is
   * recorded now, marked recovered, from the personal record the chip holds.
   */
  private async recoverIssuance(request: PosRequest, terminal: ChipTerminal, chip: ChipFacts): Promise<PosOutcome | undefined> {
    const onChip = await terminal.readPersonalData();
    const bankId = bankIdDigits(onChip.bankId);
    const lookup = await this.options.info.findWaiting(bankId, chip.cardId);
    const record = recoveredIssuance(chip, lookup.found ? lookup.entry : undefined, onChip.personal);
    if (!record) return undefined;
    this.logger.warn(`store ${this.options.storeId}: card ${chip.cardId} holds personal data no store recorded; recording CardIssued now`);
    return this.recordIssued(request, chip, bankId, record, ISSUANCE_MESSAGES.recovered, true);
  }

  private async recordIssued(
    request: PosRequest,
    chip: ChipFacts,
    bankId: string,
    record: PersonalisationRecord,
    message: string,
    recovered: boolean,
  ): Promise<PosOutcome> {
    const written = writtenRecordBytes(bankId, record);
    const sealed = {
      digest: writtenRecordDigest(written),
      sealedForHeadOffice: seal(this.options.hqSealingPublicKey, issuedRecordSealContext, written),
    };
    const [entry] = await this.record(request, chip.cardId, cardIssued(chip, record, sealed, this.context(request), recovered));
    this.sent.recorded(chip.cardId);
    return { ok: true, code: 'issued', message, cardId: chip.cardId, eventId: entry!.envelope.eventId };
  }

  private async reject(request: PosRequest, chip: ChipFacts, bankId: string, reason: IssueRejection, detail?: string): Promise<PosOutcome> {
    const event = cardIssueRejected(chip.cardId, bankId, reason, this.context(request), detail);
    const [entry] = await this.record(request, chip.cardId, event);
    const code = rejectionCode(reason);
    return { ok: false, code, message: event.data.message ?? '', cardId: chip.cardId, eventId: entry!.envelope.eventId };
  }

  /** Where the event happened: the store, and the terminal by its name (store/terminal). */
  private context(request: PosRequest) {
    return { storeId: this.options.storeId, terminalId: request.terminalName };
  }

  private record(request: PosRequest, cardId: string, event: NewDomainEvent) {
    return this.options.log.append([{ event, streamId: `card-${cardId}`, commandId: request.commandId, occurredAt: this.now() }]);
  }
}

/** A card or reader problem as the POS sees it; nothing was recorded. */
function cardTrouble(error: unknown, terminalId: string): PosOutcome {
  if (error instanceof CardRemovedError)
    return {
      ok: false,
      code: 'card_removed',
      message: 'card removed during issuance: insert it again (if the card took the data, its issuance is recorded then)',
    };
  if (error instanceof NoCardError) return { ok: false, code: 'no_card', message: `no card in the reader of terminal ${terminalId}` };
  if (error instanceof UnknownCardError)
    return { ok: false, code: 'card_unusable', message: `${ISSUANCE_MESSAGES.card_unusable}: ${error.message}` };
  if (error instanceof CardStatusError) return { ok: false, code: 'card_refused', message: error.message };
  if (error instanceof CardReaderError) return { ok: false, code: 'card_error', message: error.message };
  throw error;
}
