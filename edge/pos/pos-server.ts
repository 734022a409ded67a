// The edge's POS command handler: decodes PosCommand, runs each command id at most once, and hands
// the command to the handler that a feature registered for its kind. The terminal is the one whose
// subject the command came on (only its credentials may publish there), never what the command says.
import type { Database } from 'better-sqlite3';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  decodeOrThrow,
  pb,
  storeTerminalName,
  subjects,
  terminalOfPosSubject,
  type cardsys,
  type PosReply,
} from '../../contracts/index.js';
import { isValidTerminalId } from '../../contracts/index.js';
import { CommandResults, commandDigest } from './command-results.js';
import { decodePosReply } from './pos-client.js';
import { childLogger, type Logger } from '../../infra/index.js';
import { RefusedRequests, serveRequests } from '../../infra/nats/index.js';

export type PosCommandKind = NonNullable<cardsys.v1.PosCommand['kind']>;

/** A decoded, checked command. */
export interface PosRequest {
  commandId: string;
  storeId: string;
  /** The terminal the command came from (its subject): whose card reader it drives. */
  terminalId: string;
  /** The store and terminal as the card records them and events carry them (`storeTerminalName`). */
  terminalName: string;
  command: cardsys.v1.PosCommand;
}

/** What a handler answers: PosReply without the command id, which the server fills in. */
export type PosOutcome = Omit<Partial<PosReply>, 'commandId'> & { ok: boolean; code: string; message: string };

export type PosHandler = (request: PosRequest) => Promise<PosOutcome>;

/** What a feature found since of a command that was interrupted (a pay recovered from the card). */
export interface Aftermath {
  recoveredEventId: string;
  cardId: string;
  cardCounter: number;
  amount: number;
  recoveredAt: string;
}

export interface PosServerOptions {
  storeId: string;
  db: Database;
  logger?: Logger;
  /** Told of every answer: the command's kind (or "unknown"), its reply, how long it took (the edge's metrics). */
  onAnswered?: (kind: string, reply: PosReply, seconds: number) => void;
}

const MAX_ID = 128;

export class PosServer {
  private readonly handlers = new Map<PosCommandKind, PosHandler>();
  private readonly aftermaths: Array<(commandId: string) => Aftermath | undefined> = [];
  private readonly running = new Map<string, Promise<Uint8Array>>();
  private readonly results: CommandResults;
  private readonly logger: Logger;
  private subscription: Subscription | undefined;
  /** Commands refused because their reply subject lay outside the asking terminal's inbox. */
  readonly refused = new RefusedRequests();

  constructor(private readonly options: PosServerOptions) {
    this.results = new CommandResults(options.db);
    this.logger = options.logger ?? console;
  }

  /** A feature takes charge of one kind of command. */
  register(kind: PosCommandKind, handler: PosHandler): void {
    if (this.handlers.has(kind)) throw new Error(`a handler for "${kind}" commands is already registered`);
    this.handlers.set(kind, handler);
  }

  /** A feature that may find, later, what an interrupted command did (the purse: a pay on the card). */
  explainInterrupted(find: (commandId: string) => Aftermath | undefined): void {
    this.aftermaths.push(find);
  }

  /**
   * Answers cardsys.pos.<storeId>.<terminalId> requests on this connection, each only inside that
   * terminal's own inbox: a terminal cannot make the edge publish on a subject of its choosing.
   */
  listen(nc: NatsConnection): void {
    const storeId = this.options.storeId;
    this.subscription = serveRequests(nc, {
      service: `pos ${storeId}`,
      subject: subjects.posAll(storeId),
      askerOf: (message) => {
        const terminalId = terminalOfPosSubject(storeId, message.subject);
        return terminalId === undefined ? undefined : ({ role: 'pos', storeId, terminalId } as const);
      },
      answer: (message, terminal) => this.handle(message.data, terminal.terminalId),
      logger: this.logger,
      refused: this.refused,
    });
  }

  async stop(): Promise<void> {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    await Promise.allSettled([...this.running.values()]);
  }

  /** One encoded PosCommand from `terminalId` in, one encoded PosReply out. Never throws. */
  async handle(bytes: Uint8Array, terminalId: string): Promise<Uint8Array> {
    const onAnswered = this.options.onAnswered;
    if (!onAnswered) return this.answer(bytes, terminalId);
    const started = performance.now();
    const reply = await this.answer(bytes, terminalId);
    let kind = 'unknown';
    try {
      kind = pb.PosCommand.decode(bytes).kind ?? 'unknown';
    } catch {}
    onAnswered(kind, decodePosReply(reply), (performance.now() - started) / 1000);
    return reply;
  }

  private async answer(bytes: Uint8Array, terminalId: string): Promise<Uint8Array> {
    let command: cardsys.v1.PosCommand;
    try {
      command = decodeOrThrow('PosCommand', () => pb.PosCommand.decode(bytes));
    } catch (error) {
      return encodeReply('', { ok: false, code: 'bad_request', message: (error as Error).message });
    }
    const problem = this.checkCommand(command, terminalId);
    if (problem) return encodeReply(command.commandId, { ok: false, code: 'bad_request', message: problem });
    if (command.status) return encodeReply(command.commandId, this.statusOf(command.status.commandId ?? '', terminalId));
    if (command.terminalId && command.terminalId !== terminalId)
      this.logger.warn(
        `pos ${this.options.storeId}: command ${command.commandId} from terminal ${terminalId} names terminal "${command.terminalId}"; it runs on ${terminalId}, the terminal it came from`,
      );

    const commandId = command.commandId;
    const inFlight = this.running.get(commandId);
    if (inFlight !== undefined) return inFlight;

    const digest = commandDigest(command, terminalId);
    const earlier = this.results.find(commandId);
    if (earlier) {
      if (earlier.requestDigest !== digest) {
        return encodeReply(commandId, {
          ok: false,
          code: 'command_id_reused',
          message: `command id ${commandId} was already used for a different command`,
        });
      }
      if (earlier.reply) return earlier.reply;
      return encodeReply(commandId, {
        ok: false,
        code: 'interrupted',
        message: `command ${commandId} was interrupted when the store's node stopped; it is not run again (read the card to see its state)`,
      });
    }

    const run = this.run(command, terminalId, digest);
    this.running.set(commandId, run);
    try {
      return await run;
    } finally {
      this.running.delete(commandId);
    }
  }

  /**
   * What became of a command, told only to the terminal that sent it (a command recorded before
   * commands named their terminal: to any of the store's).
   */
  private statusOf(commandId: string, terminalId: string): PosOutcome {
    const stored = this.results.find(commandId);
    if (!stored || (stored.terminalId !== undefined && stored.terminalId !== terminalId))
      return {
        ok: false,
        code: 'unknown',
        message: `terminal ${terminalId} sent no command ${commandId} to this store`,
        status: { commandId, state: 'unknown' },
      };
    const base = { commandId, kind: stored.kind, startedAt: stored.startedAt, finishedAt: stored.finishedAt ?? '' };
    const reply = stored.reply ? decodePosReply(stored.reply) : undefined;
    // A pay whose card answer was lost (the card pulled, or the edge stopped) and that was found on
    // the card later: recovered, whatever its first reply said.
    const found = this.running.has(commandId) ? undefined : this.aftermaths.map((find) => find(commandId)).find((a) => a !== undefined);
    if (found)
      return {
        ok: true,
        code: 'recovered',
        message: `${stored.kind} command ${commandId}${reply ? ` answered ${reply.code}, but its` : ' was interrupted; its'} pay of ¥${found.amount.toLocaleString('en-US')} was found on card ${found.cardId} (counter ${found.cardCounter}) and recorded at ${found.recoveredAt} (event ${found.recoveredEventId})`,
        cardId: found.cardId,
        eventId: found.recoveredEventId,
        status: { ...base, ...found, state: 'recovered', ...(reply ? { reply } : {}) },
      };
    if (reply)
      return {
        ok: true,
        code: 'finished',
        message: `${stored.kind} command ${commandId} finished: ${reply.ok ? 'ok' : 'refused'} (${reply.code}): ${reply.message}`,
        status: { ...base, state: 'finished', reply },
      };
    if (this.running.has(commandId))
      return {
        ok: true,
        code: 'running',
        message: `${stored.kind} command ${commandId} is running`,
        status: { ...base, state: 'running' },
      };
    return {
      ok: true,
      code: 'interrupted',
      message: `${stored.kind} command ${commandId} was interrupted when the store's node stopped; nothing of it has been found on a card since (read the card to see its state)`,
      status: { ...base, state: 'interrupted' },
    };
  }

  private checkCommand(command: cardsys.v1.PosCommand, terminalId: string): string | undefined {
    if (!command.commandId || command.commandId.length > MAX_ID) return `command_id must be 1-${MAX_ID} characters`;
    if (command.storeId !== this.options.storeId)
      return `command is for store "${command.storeId}", this is store "${this.options.storeId}"`;
    if (!isValidTerminalId(terminalId)) return `"${terminalId}" is not a terminal id`;
    if (!command.kind)
      return 'command has no kind (issue, load, pay, read, unblock_pin, change_pin, replacement_credit, card_return or status)';
    if (command.load?.pin) return 'a PIN in clear is refused: the terminal sends it as a PIN block';
    return undefined;
  }

  private async run(command: cardsys.v1.PosCommand, terminalId: string, digest: string): Promise<Uint8Array> {
    const kind = command.kind as PosCommandKind;
    const handler = this.handlers.get(kind);
    if (!handler)
      return encodeReply(command.commandId, { ok: false, code: 'unsupported', message: `this store does not handle "${kind}" commands` });
    this.results.start(command.commandId, kind, digest, terminalId);
    let outcome: PosOutcome;
    try {
      outcome = await handler({
        commandId: command.commandId,
        storeId: command.storeId,
        terminalId,
        terminalName: storeTerminalName(command.storeId, terminalId),
        command,
      });
    } catch (error) {
      childLogger(this.logger, { command: command.commandId, terminal: terminalId }).error(
        `pos ${this.options.storeId}: ${kind} command ${command.commandId} failed: ${(error as Error).stack ?? String(error)}`,
      );
      outcome = { ok: false, code: 'error', message: `the store's node could not complete the command: ${(error as Error).message}` };
    }
    const reply = encodeReply(command.commandId, outcome);
    this.results.finish(command.commandId, reply);
    return reply;
  }
}

function encodeReply(commandId: string, outcome: PosOutcome): Uint8Array {
  return pb.PosReply.encode({ ...outcome, commandId }).finish();
}
