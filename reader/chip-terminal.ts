import { randomBytes } from 'node:crypto';
import {
  ascii,
  bankIdDigits,
  buildCommandApdu,
  cardCryptogram,
  chipCommands as C,
  computeAuthCode,
  concat,
  deriveCardKey,
  decodePersonalRecord,
  deriveSessionKeys,
  encodePersonalRecord,
  equalBytes,
  expiryDigits,
  expiryFromDigits,
  fromHex,
  initialisationData,
  lifecycleOf,
  operationOf,
  parseBankId,
  protectCommand,
  purseDataMac,
  SM_CLA_BIT,
  SW,
  terminalCryptogram,
  terminalIdOf,
  toHex,
  u32,
  unprotectResponse,
  type BankId,
  type IssuerMasterKeys,
  type Lifecycle,
  type PersonalFields,
  type PrimaryIssuance,
  type PurseOperation,
  type PurseReceipt,
  type RandomSource,
  type ResponseApdu,
  type SessionKeys,
  type TerminalKeys,
} from '../card/index.js';
import { CardResponseError, CardStatusError, UnknownCardError } from './errors.js';
import { exchange, type CardTransport } from './transport.js';
import { isExpiredOn, isoDay } from '../domain/index.js';

export interface CardInfo {
  /** 16 hex digits; all zeros on a blank card. */
  readonly cardId: string;
  readonly lifecycle: Lifecycle;
  readonly keyVersion: number;
  /** Last month of validity, "YYYY-MM" ("" on a blank card). */
  readonly expiry: string;
  readonly authCode: string;
}

export interface BalanceReading {
  readonly balance: number;
  /** Purse transactions done so far (credit authorisations are bound to it). */
  readonly counter: number;
  /** The data MAC stored with the balance does not match it: the card's memory was altered. */
  readonly tampered: boolean;
}

export type PersonalData = PersonalFields;

export interface LogRecord {
  readonly operation: PurseOperation;
  readonly amount: number;
  readonly counter: number;
  readonly balanceAfter: number;
  readonly time: Date;
  readonly terminalId: string;
  readonly mac: string;
}

export interface PinStatus {
  /** 0 when the PIN is blocked. */
  readonly triesLeft: number;
  /** PIN unblocks done so far: head office's unblock MAC is bound to it. */
  readonly pinResets: number;
}

export interface ValidityVerdict {
  readonly usable: boolean;
  /** Why the card cannot be used (empty when usable). */
  readonly problems: string[];
  readonly info: CardInfo;
  readonly balance: BalanceReading | undefined;
}

export interface ChipTerminalOptions {
  /** Store terminals hold TerminalKeys; head office may pass its IssuerMasterKeys. */
  readonly keys: TerminalKeys;
  /** Recorded by the card (as the first 8 bytes of its SHA-256) with every credit and debit. */
  readonly terminalName: string;
  readonly random?: RandomSource;
}

/**
 * A terminal's view of the purse application on one inserted card, over any transport (PC/SC or in
 * process). Every method is one or a few APDUs; refusals raise CardStatusError with the status word.
 */
export class ChipTerminal {
  readonly terminalId: Uint8Array;
  private readonly random: RandomSource;
  private info: CardInfo | undefined;
  private session: SessionKeys | undefined;
  /** APDUs sent since construction (for figures). */
  apduCount = 0;

  constructor(
    private readonly transport: CardTransport,
    private readonly options: ChipTerminalOptions,
  ) {
    this.terminalId = terminalIdOf(options.terminalName);
    this.random = options.random ?? ((length) => new Uint8Array(randomBytes(length)));
  }

  /** Sends a raw command APDU (61xx/6Cxx handled) and returns the response as is. */
  async transmit(apdu: Uint8Array): Promise<ResponseApdu> {
    this.apduCount++;
    return exchange(this.transport, apdu);
  }

  async select(): Promise<void> {
    const response = await this.transmit(buildCommandApdu({ cla: 0, ins: C.INS.SELECT, p1: 0x04, p2: 0x00, data: C.AID, le: 256 }));
    this.info = undefined;
    this.session = undefined;
    if (response.sw === SW.FILE_NOT_FOUND)
      throw new UnknownCardError('the card does not carry the cardsys purse application (SELECT by AID answered 6A82)');
    expectOk('SELECT', response);
  }

  async readInfo(): Promise<CardInfo> {
    const response = await this.plain('GET DATA', C.INS.GET_DATA, 0x00, C.DATA_OBJECT.SYSTEM_INFO);
    if (response.length !== C.SYSTEM_INFO_LENGTH)
      throw new CardResponseError(`GET DATA: expected ${C.SYSTEM_INFO_LENGTH} bytes, got ${response.length}`);
    const lifecycle = lifecycleOf(response[8]!);
    if (!lifecycle) throw new CardResponseError(`GET DATA: unknown lifecycle code ${response[8]}`);
    const storedExpiry = new TextDecoder().decode(response.subarray(10, 16));
    this.info = {
      cardId: toHex(response.subarray(0, 8)),
      lifecycle,
      keyVersion: response[9]!,
      expiry: lifecycle === 'blank' ? '' : expiryFromDigits(storedExpiry),
      authCode: toHex(response.subarray(16, 24)),
    };
    return this.info;
  }

  /** True when the card's authentication code is the one head office wrote for this card. */
  verifyAuthCode(info: CardInfo): boolean {
    if (info.lifecycle === 'blank' || info.keyVersion !== this.options.keys.keyVersion) return false;
    const expected = computeAuthCode(this.options.keys.authCode, fromHex(info.cardId), expiryDigits(info.expiry), info.keyVersion);
    return equalBytes(expected, fromHex(info.authCode));
  }

  /** Mutual authentication with the card's terminal key; opens a secure-messaging session. */
  async authenticate(): Promise<void> {
    const info = this.info ?? (await this.readInfo());
    if (info.lifecycle === 'blank') throw new CardStatusError('MUTUAL AUTHENTICATE', SW.CONDITIONS_NOT_SATISFIED);
    if (info.keyVersion !== this.options.keys.keyVersion) {
      throw new UnknownCardError(`card has key version ${info.keyVersion}, this terminal holds version ${this.options.keys.keyVersion}`);
    }
    await this.mutualAuthenticate(C.KEY_REF.TERMINAL, deriveCardKey(this.options.keys.terminal, fromHex(info.cardId), 'terminal'));
  }

  /** True while a secure-messaging session with the card's terminal key is open. */
  get authenticated(): boolean {
    return this.session !== undefined;
  }

  /** GET BALANCE under the terminal session (the chip shows its purse to no one else). */
  async readBalance(): Promise<BalanceReading> {
    const info = this.info ?? (await this.readInfo());
    const record = await this.secured('GET BALANCE', C.INS.GET_BALANCE, 0x00, 0x00, new Uint8Array(0));
    if (record.length !== C.BALANCE_RECORD_LENGTH)
      throw new CardResponseError(`GET BALANCE: expected ${C.BALANCE_RECORD_LENGTH} bytes, got ${record.length}`);
    const view = new DataView(record.buffer, record.byteOffset, record.length);
    const balance = view.getUint32(0);
    const counter = view.getUint32(4);
    const cardId = fromHex(info.cardId);
    const expected = purseDataMac(deriveCardKey(this.options.keys.data, cardId, 'data'), cardId, balance, counter);
    return { balance, counter, tampered: !equalBytes(expected, record.subarray(8, 16)) };
  }

  /**
   * The card checks a terminal makes before any purse operation: application present, issued,
   * authentic (authentication code, then mutual authentication), not expired, purse not tampered
   * with. The chip shows its balance only under a terminal session, so a card whose authentication
   * code fails is not authenticated and its balance stays unread. Leaves the session open. The
   * blacklist is the edge's own check.
   */
  async checkValidity(now: Date = new Date()): Promise<ValidityVerdict> {
    await this.select();
    const info = await this.readInfo();
    const problems: string[] = [];
    let genuine = false;
    if (info.lifecycle === 'blank') problems.push('card is blank (not issued)');
    else if (info.lifecycle === 'terminated') problems.push('card is terminated (returned or replaced)');
    else {
      genuine = this.verifyAuthCode(info);
      if (!genuine) problems.push('authentication code is invalid');
      if (isExpiredOn(info.expiry, isoDay(now))) problems.push(`card expired at the end of ${info.expiry}`);
    }
    if (genuine) await this.authenticate();
    const balance = genuine ? await this.readBalance() : undefined;
    if (balance?.tampered) problems.push('balance record fails its data MAC (tampered)');
    return { usable: problems.length === 0, problems, info, balance };
  }

  async readBankId(): Promise<BankId> {
    const digits = new TextDecoder().decode(await this.readFile(C.FILE.BANK));
    return parseBankId(digits);
  }

  /**
   * Secondary issuance: writes the personal record (with the bank ID as a cross-check) under secure
   * messaging. Data the chip cannot hold raise PersonalRecordTooLongError before anything is sent.
   */
  async personalise(personal: PersonalData, bankId: BankId): Promise<void> {
    if (personal.name.length === 0) throw new Error('personal data: name must not be empty');
    const record = encodePersonalRecord(personal, bankIdDigits(bankId));
    const chunks = Math.max(1, Math.ceil(record.length / C.PERSONALISE_CHUNK));
    for (let chunk = 0; chunk < chunks; chunk++) {
      const p1 = chunk | (chunk === chunks - 1 ? C.LAST_CHUNK : 0);
      await this.secured(
        'PERSONALISE',
        C.INS.PERSONALISE,
        p1,
        C.FILE.PERSONAL,
        record.subarray(chunk * C.PERSONALISE_CHUNK, (chunk + 1) * C.PERSONALISE_CHUNK),
      );
    }
    if (this.info) this.info = { ...this.info, lifecycle: 'secondary-issued' };
  }

  async readPersonalData(): Promise<{ personal: PersonalData; bankId: BankId }> {
    const record = decodePersonalRecord(await this.readFile(C.FILE.PERSONAL));
    if (!record) throw new CardResponseError('personal record is not well-formed TLV');
    return { personal: record.fields, bankId: parseBankId(record.bankIdDigits) };
  }

  /** VERIFY PIN under secure messaging; wrong PIN → CardStatusError 63Cx (tries left) or 6983 (blocked). */
  async verifyPin(pin: string): Promise<void> {
    await this.secured('VERIFY PIN', C.INS.VERIFY_PIN, 0x00, C.PIN_REFERENCE, ascii(checkPin(pin)));
  }

  /** GET DATA (PIN status) under the terminal session: tries left and the PIN reset counter. */
  async readPinStatus(): Promise<PinStatus> {
    const status = await this.secured('GET DATA', C.INS.GET_DATA, 0x00, C.DATA_OBJECT.PIN_STATUS, new Uint8Array(0));
    if (status.length !== C.PIN_STATUS_LENGTH)
      throw new CardResponseError(`GET DATA (PIN status): expected ${C.PIN_STATUS_LENGTH} bytes, got ${status.length}`);
    return { triesLeft: status[0]!, pinResets: new DataView(status.buffer, status.byteOffset, status.length).getUint32(1) };
  }

  /**
   * RESET RETRY COUNTER with head office's unblock MAC for (card, PIN reset counter, id): the new
   * PIN holds with three tries. The session then holds no verified PIN.
   */
  async unblockPin(request: { authorisationId: string; unblockMac: string; newPin: string }): Promise<void> {
    const authorisationId = fromHex(request.authorisationId, 'authorisation id');
    const unblockMac = fromHex(request.unblockMac, 'unblock MAC');
    if (authorisationId.length !== 8 || unblockMac.length !== 8)
      throw new Error('authorisation id and unblock MAC must be 8 bytes (16 hex digits) each');
    const data = concat(authorisationId, unblockMac, pinField(request.newPin));
    await this.secured('RESET RETRY COUNTER', C.INS.RESET_RETRY_COUNTER, 0x00, C.PIN_REFERENCE, data);
  }

  /** CHANGE REFERENCE DATA: the old PIN (a wrong one uses up a try), then the new one. The session then holds no verified PIN. */
  async changePin(oldPin: string, newPin: string): Promise<void> {
    const data = concat(pinField(oldPin), pinField(newPin));
    await this.secured('CHANGE REFERENCE DATA', C.INS.CHANGE_REFERENCE_DATA, 0x00, C.PIN_REFERENCE, data);
  }

  /** Load: needs a verified PIN in this session and head office's authorisation MAC for (card, counter, amount, id). */
  async credit(request: { amount: number; authorisationId: string; authorisationMac: string; at?: Date }): Promise<PurseReceipt> {
    const authorisationId = fromHex(request.authorisationId, 'authorisation id');
    const authorisationMac = fromHex(request.authorisationMac, 'authorisation MAC');
    if (authorisationId.length !== 8 || authorisationMac.length !== 8)
      throw new Error('authorisation id and MAC must be 8 bytes (16 hex digits) each');
    const data = concat(u32(checkAmount(request.amount)), authorisationId, authorisationMac, this.terminalId, u32(unixSeconds(request.at)));
    return this.purse('credit', C.INS.CREDIT, request.amount, data);
  }

  /** Pay: debits within the balance; the receipt carries the card's MAC for head office. */
  async debit(request: { amount: number; at?: Date }): Promise<PurseReceipt> {
    const data = concat(u32(checkAmount(request.amount)), this.terminalId, u32(unixSeconds(request.at)));
    return this.purse('debit', C.INS.DEBIT, request.amount, data);
  }

  /**
   * TERMINATE CARD USAGE under the terminal session: with head office's termination MAC for the
   * card's current counter, the card gives up its whole balance (the receipt's amount, an unload)
   * and refuses every later command. A terminal that lost the answer reads it back with
   * readTerminationRecord.
   */
  async terminate(request: { terminationMac: string; at?: Date }): Promise<PurseReceipt> {
    const terminationMac = fromHex(request.terminationMac, 'termination MAC');
    if (terminationMac.length !== 8) throw new Error('termination MAC must be 8 bytes (16 hex digits)');
    const info = this.info ?? (await this.readInfo());
    const response = await this.secured(
      'TERMINATE CARD USAGE',
      C.INS.TERMINATE,
      0x00,
      0x00,
      concat(terminationMac, this.terminalId, u32(unixSeconds(request.at))),
    );
    if (response.length !== C.TERMINATE_RESPONSE_LENGTH)
      throw new CardResponseError(`TERMINATE CARD USAGE: expected ${C.TERMINATE_RESPONSE_LENGTH} bytes, got ${response.length}`);
    const view = new DataView(response.buffer, response.byteOffset, response.length);
    this.info = { ...info, lifecycle: 'terminated' };
    return {
      operation: 'unload',
      cardId: info.cardId,
      counter: view.getUint32(4),
      amount: view.getUint32(0),
      newBalance: 0,
      terminalId: toHex(this.terminalId),
      mac: toHex(response.subarray(8, 16)),
    };
  }

  /** A terminated card's unload, as the card logged and MACed it (plain GET DATA, no session). */
  async readTerminationRecord(): Promise<LogRecord> {
    return decodeLogRecord(await this.plain('GET DATA', C.INS.GET_DATA, 0x00, C.DATA_OBJECT.TERMINATION_RECORD));
  }

  /** The card's usage log, newest first. */
  async readLog(): Promise<LogRecord[]> {
    const records: LogRecord[] = [];
    for (let number = 1; number <= 0xff; number++) {
      const response = await this.securedResponse('READ RECORD', C.INS.READ_RECORD, number, 0x00, new Uint8Array(0));
      if (response.sw === SW.RECORD_NOT_FOUND) break;
      expectOk('READ RECORD', response);
      records.push(decodeLogRecord(response.data));
    }
    return records;
  }

  /** Primary issuance at head office: turns a blank card into an issued one. Needs the issuer master keys. */
  async initialise(master: IssuerMasterKeys, issuance: PrimaryIssuance): Promise<CardInfo> {
    const data = initialisationData(master, issuance);
    await this.select();
    await this.mutualAuthenticate(C.KEY_REF.TRANSPORT, master.transport);
    await this.secured('INITIALISE', C.INS.INITIALISE, 0x00, 0x00, data);
    this.session = undefined;
    return this.readInfo();
  }

  private async purse(operation: PurseOperation, ins: number, amount: number, data: Uint8Array): Promise<PurseReceipt> {
    const info = this.info ?? (await this.readInfo());
    const response = await this.secured(operation.toUpperCase(), ins, 0x00, 0x00, data);
    if (response.length !== C.PURSE_RESPONSE_LENGTH)
      throw new CardResponseError(`${operation}: expected ${C.PURSE_RESPONSE_LENGTH} bytes, got ${response.length}`);
    const view = new DataView(response.buffer, response.byteOffset, response.length);
    return {
      operation,
      cardId: info.cardId,
      counter: view.getUint32(4),
      amount,
      newBalance: view.getUint32(0),
      terminalId: toHex(this.terminalId),
      mac: toHex(response.subarray(8, 16)),
    };
  }

  private async readFile(file: number): Promise<Uint8Array> {
    const blocks: Uint8Array[] = [];
    for (let block = 0; block <= 0xff; block++) {
      const data = await this.secured('READ DATA', C.INS.READ_DATA, file, block, new Uint8Array(0));
      blocks.push(data);
      if (data.length < C.READ_BLOCK) break;
    }
    return concat(...blocks);
  }

  private async mutualAuthenticate(keyRef: number, key: Uint8Array): Promise<void> {
    this.session = undefined;
    const challenge = await this.transmit(buildCommandApdu({ cla: 0x00, ins: C.INS.GET_CHALLENGE, p1: 0, p2: 0, le: 16 }));
    expectOk('GET CHALLENGE', challenge);
    const rndCard = challenge.data;
    const rndTerminal = this.random(16);
    const response = await this.transmit(
      buildCommandApdu({
        cla: C.CLA_PROPRIETARY,
        ins: C.INS.MUTUAL_AUTHENTICATE,
        p1: 0,
        p2: keyRef,
        data: concat(rndTerminal, terminalCryptogram(key, rndTerminal, rndCard)),
        le: 16,
      }),
    );
    expectOk('MUTUAL AUTHENTICATE', response);
    if (!equalBytes(response.data, cardCryptogram(key, rndTerminal, rndCard))) {
      throw new CardResponseError('MUTUAL AUTHENTICATE: the card did not prove it holds its key (forged or cloned card?)');
    }
    this.session = deriveSessionKeys(key, rndTerminal, rndCard);
  }

  private async plain(command: string, ins: number, p1: number, p2: number): Promise<Uint8Array> {
    const response = await this.transmit(buildCommandApdu({ cla: C.CLA_PROPRIETARY, ins, p1, p2, le: 256 }));
    expectOk(command, response);
    return response.data;
  }

  private async secured(command: string, ins: number, p1: number, p2: number, data: Uint8Array): Promise<Uint8Array> {
    const response = await this.securedResponse(command, ins, p1, p2, data);
    expectOk(command, response);
    return response.data;
  }

  /** One command under secure messaging; a plain status word (no MAC) ends the session. */
  private async securedResponse(command: string, ins: number, p1: number, p2: number, data: Uint8Array): Promise<ResponseApdu> {
    if (!this.session) throw new CardStatusError(command, SW.SECURITY_STATUS_NOT_SATISFIED);
    const cla = C.CLA_PROPRIETARY | SM_CLA_BIT;
    const protectedCommand = protectCommand(this.session, { cla, ins, p1, p2, data });
    this.session = protectedCommand.keys;
    const response = await this.transmit(buildCommandApdu({ cla, ins, p1, p2, data: protectedCommand.data, le: 256 }));
    if (response.data.length === 0) {
      this.session = undefined;
      return response;
    }
    const opened = unprotectResponse(this.session, response.data, response.sw);
    if (!opened) {
      this.session = undefined;
      throw new CardResponseError(`${command}: response fails its secure-messaging MAC`);
    }
    this.session = opened.keys;
    return { data: opened.data, sw: response.sw };
  }
}

function expectOk(command: string, response: ResponseApdu): void {
  if (response.sw !== SW.OK) throw new CardStatusError(command, response.sw);
}

function decodeLogRecord(record: Uint8Array): LogRecord {
  if (record.length !== C.LOG_RECORD_LENGTH)
    throw new CardResponseError(`READ RECORD: expected ${C.LOG_RECORD_LENGTH} bytes, got ${record.length}`);
  const view = new DataView(record.buffer, record.byteOffset, record.length);
  const operation = operationOf(record[0]!);
  if (!operation) throw new CardResponseError(`READ RECORD: unknown operation code ${record[0]}`);
  return {
    operation,
    amount: view.getUint32(1),
    counter: view.getUint32(5),
    balanceAfter: view.getUint32(9),
    time: new Date(view.getUint32(13) * 1000),
    terminalId: toHex(record.subarray(17, 25)),
    mac: toHex(record.subarray(25, 33)),
  };
}

function checkPin(pin: string): string {
  if (!/^\d{4,8}$/.test(pin)) throw new Error('PIN must be 4 to 8 digits');
  return pin;
}

/** A PIN as RESET RETRY COUNTER and CHANGE REFERENCE DATA carry it: its digits, then FF up to 8 bytes. */
function pinField(pin: string): Uint8Array {
  const field = new Uint8Array(C.PIN_FIELD_LENGTH).fill(C.PIN_FIELD_FILL);
  field.set(ascii(checkPin(pin)));
  return field;
}

function checkAmount(amount: number): number {
  if (!Number.isInteger(amount) || amount <= 0 || amount > 0xffffffff)
    throw new Error(`amount must be a positive whole number of yen, got ${amount}`);
  return amount;
}

function unixSeconds(at: Date | undefined): number {
  return Math.floor((at ?? new Date()).getTime() / 1000);
}
