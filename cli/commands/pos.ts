import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import { connect, type ConnectionOptions, type NatsConnection } from '@nats-io/transport-node';
import { isUnreachable } from '../../infra/nats/index.js';
import { z } from 'zod';
import { existsSync } from 'node:fs';
import { DEFAULT_TERMINAL_ID, loadPinKey, StoreId, TerminalId, Yen, pb, type cardsys, type PosReply } from '../../contracts/index.js';
import { sendPosCommand, type PosCommandInput } from '../../edge/pos/index.js';
import { withNatsOptions, type NatsCliOptions, withDataOption, type DataCliOptions } from '../options.js';
import { answer } from '../output.js';
import { join } from 'node:path';
import { storeBundleFiles, storeClientSettings } from '../../host/provisioning/index.js';

const Common = z.object({
  store: StoreId,
  terminal: TerminalId.default(DEFAULT_TERMINAL_ID),
  pinKey: z.string().optional(),
  commandId: z.string().min(1).max(128).optional(),
  timeout: z.coerce.number().int('timeout must be whole milliseconds').min(100, 'timeout must be at least 100 ms').default(10_000),
});
const Amount = z.coerce.number().pipe(Yen);
const CommandId = z.string().min(1, 'must not be empty').max(128, 'must be at most 128 characters');
const Pin = z.string().regex(/^\d{4,8}$/, 'PIN must be 4 to 8 digits');
const PayEventId = z.string().min(1, 'must not be empty').max(64, 'must be at most 64 characters');
const Name = z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters');
const BirthDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be YYYY-MM-DD')
  .refine((day) => new Date(`${day}T00:00:00Z`).toISOString().startsWith(day), 'is not a date');

type PosCliOptions = NatsCliOptions & DataCliOptions & Record<string, unknown>;

/** Parses options; the first problem names the option it is about (`option` for a single value). */
function parse<T extends z.ZodTypeAny>(schema: T, raw: unknown, option?: string): z.infer<T> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  option ??= String(issue?.path[0] ?? '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  throw new Error(option ? `--${option}: ${issue?.message}` : (issue?.message ?? 'invalid options'));
}

type Kind = Omit<PosCommandInput, 'commandId'>;

const CONNECT_RETRY_MS = 250;

/** The terminal's PIN key: --pin-key, or the provisioned terminal's (<data>/stores/<id>/terminals/<terminal>/pin-key). */
function pinKeyOf(bundleDir: string, terminalId: string, file: string | undefined): Uint8Array {
  const pinKeyFile = file ?? storeBundleFiles(bundleDir).terminal(terminalId).pinKey;
  if (!existsSync(pinKeyFile))
    throw new Error(
      `--pin-key: terminal ${terminalId} has no PIN key at ${pinKeyFile} (provision it: cardsys host provision-terminal --store <id> --terminal ${terminalId})`,
    );
  return loadPinKey(pinKeyFile);
}

/** Connects, trying again for up to `timeoutMs` while the broker cannot be reached (starting, restarting). */
async function connectWithin(options: ConnectionOptions, timeoutMs: number): Promise<NatsConnection> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await connect(options);
    } catch (error) {
      if (!isUnreachable(error as Error) || Date.now() + CONNECT_RETRY_MS > deadline) throw error;
      await new Promise((settle) => setTimeout(settle, CONNECT_RETRY_MS));
    }
  }
}

async function run(options: PosCliOptions, kind: Kind): Promise<void> {
  const common = parse(Common, options);
  const commandId = common.commandId ?? randomUUID();
  const bundleDir = join(options.data, 'stores', common.store);
  const terminal = {
    storeId: common.store,
    terminalId: common.terminal,
    ...(kind.load || kind.refund || kind.unblockPin || kind.changePin || kind.replacementCredit || kind.cardReturn
      ? { pinKey: pinKeyOf(bundleDir, common.terminal, common.pinKey) }
      : {}),
  };
  const settings = storeClientSettings(bundleDir, common.store, { terminal: common.terminal }, options);
  const nc = await connectWithin(
    { servers: settings.url, ...settings.options, name: `cardsys-pos-${common.store}-${common.terminal}` },
    common.timeout,
  ).catch((error: Error) => {
    throw new Error(settings.explain(error));
  });
  let reply: PosReply;
  try {
    reply = await sendPosCommand(nc, terminal, { ...kind, commandId }, { timeoutMs: common.timeout });
  } catch (error) {
    answer({ commandId, ok: false, code: 'no_answer', message: (error as Error).message }, `no answer: ${(error as Error).message}`, 1);
    return;
  } finally {
    await nc.close();
  }
  // Defaults included and yen as numbers, not the strings protobuf's JSON form uses for 64-bit fields.
  answer(
    pb.PosReply.toObject(reply as cardsys.v1.PosReply, { longs: Number, defaults: true }),
    [
      `${reply.ok ? 'ok' : 'refused'} (${reply.code}): ${reply.message}`,
      // A pay's event id is what a refund of it names (pos refund --pay).
      ...(reply.ok && reply.eventId ? [`event ${reply.eventId}`] : []),
    ],
    reply.ok ? 0 : 2,
  );
}

/** `cardsys pos issue|load|replacement-credit|pay|refund|return|read|pin-unblock|pin-change|status`: a POS terminal's commands to its store's edge. */
export function registerPosCommands(program: Command): void {
  const pos = program
    .command('pos')
    .description("a POS terminal: send a command to the store's edge and print its answer")
    .addHelpText(
      'after',
      '\nExit code 0 only when the command succeeded; a refusal (card unusable, declined, wrong PIN, ...) exits 2\nwith its reason in the JSON (--json) or on stdout. A retry with the same --command-id gets the first result.\n' +
        "NATS: --nats, or the store broker's address recorded in <data>/stores/<id>/store-broker.json; credentials: --creds, or\n" +
        "the terminal's own <data>/stores/<id>/terminals/<terminal>/nats.nk when provisioned; TLS verified with --tls-ca, or\n" +
        '<data>/stores/<id>/ca.pem (copied from provisioning). A load, refund, replacement-credit, return, pin-unblock and\n' +
        "pin-change send each PIN as a PIN block under the terminal's PIN key (--pin-key, or\n" +
        '<data>/stores/<id>/terminals/<terminal>/pin-key); a PIN never leaves the terminal in clear.',
    );
  const common = (command: Command, commandId = '--command-id <id>') =>
    withDataOption(withNatsOptions(command))
      .requiredOption('--store <id>', "the store whose edge runs the terminal's card reader")
      .option('--terminal <id>', 'this terminal (its card reader at the store, its credentials)', DEFAULT_TERMINAL_ID)
      .option(commandId, 'idempotency key; a fresh UUID when omitted')
      .option('--timeout <ms>', 'how long to wait for each attempt', '10000')
      .option('--json', 'one JSON object (the PosReply) on stdout');

  common(pos.command('load').description('load the purse: online authorisation by head office, debiting the bank account'))
    .requiredOption('--amount <yen>', 'amount in whole yen')
    .requiredOption('--pin <pin>', "the card holder's PIN (4-8 digits)")
    .option('--pin-key <file>', "the terminal's PIN key (default: the provisioned terminal's)")
    .action(async (options: PosCliOptions) =>
      run(options, { load: { amount: parse(Amount, options.amount, 'amount'), pin: parse(Pin, options.pin, 'pin') } }),
    );

  common(
    pos
      .command('replacement-credit')
      .description(
        "credit a replacement card with the lost card's balance: head office authorises it from the replacement account once every " +
          'store that saw the lost card has sent its events past the report',
      ),
  )
    .requiredOption('--pin <pin>', "the card holder's PIN (4-8 digits)")
    .option('--pin-key <file>', "the terminal's PIN key (default: the provisioned terminal's)")
    .addHelpText('after', '\nAnswers credited (with the balance), or nothing_due while head office still waits for a store.')
    .action(async (options: PosCliOptions) => run(options, { replacementCredit: { pin: parse(Pin, options.pin, 'pin') } }));

  common(
    pos
      .command('pin-unblock')
      .description(
        "unblock the card's PIN (after three wrong tries, or forgotten) and set a new one, with head office's authorisation: " +
          "head office checks the holder's name and birth date, as the clerk read them from an identity document, against the card's registered user",
      ),
  )
    .requiredOption('--name <name>', "the holder's name as on the identity document")
    .requiredOption('--birth-date <YYYY-MM-DD>', "the holder's birth date")
    .requiredOption('--new-pin <pin>', 'the new PIN (4-8 digits), entered by the holder')
    .option('--pin-key <file>', "the terminal's PIN key (default: the provisioned terminal's)")
    .addHelpText(
      'after',
      '\nRefusals: identity_mismatch, unknown_card, card_blacklisted, too_many_attempts (5 identity mismatches for the card within a day)\n(head office), head_office_unreachable (offline).',
    )
    .action(async (options: PosCliOptions) =>
      run(options, {
        unblockPin: {
          name: parse(Name, options.name, 'name'),
          birthDate: parse(BirthDate, options.birthDate, 'birth-date'),
          newPin: parse(Pin, options.newPin, 'new-pin'),
        },
      }),
    );

  common(pos.command('pin-change').description("change the card's PIN: the card checks the current one first (a wrong one uses up a try)"))
    .requiredOption('--pin <pin>', 'the current PIN (4-8 digits)')
    .requiredOption('--new-pin <pin>', 'the new PIN (4-8 digits)')
    .option('--pin-key <file>', "the terminal's PIN key (default: the provisioned terminal's)")
    .addHelpText('after', '\nRefusals: wrong_pin (tries left in the message), pin_blocked (unblock it with pin-unblock).')
    .action(async (options: PosCliOptions) =>
      run(options, { changePin: { pin: parse(Pin, options.pin, 'pin'), newPin: parse(Pin, options.newPin, 'new-pin') } }),
    );

  common(pos.command('pay').description('pay from the purse, within the chip balance (works with head office unreachable)'))
    .requiredOption('--amount <yen>', 'amount in whole yen')
    .action(async (options: PosCliOptions) => run(options, { pay: { amount: parse(Amount, options.amount, 'amount') } }));

  common(
    pos
      .command('refund')
      .description(
        "cancel all or part of a pay made at this store: head office authorises a credit of the card, charged to the store's takings",
      ),
  )
    .requiredOption('--pay <event-id>', 'the pay to refund: the event id `pos pay` printed (eventId with --json)')
    .option('--amount <yen>', 'the part of the pay to refund, in whole yen (default: the whole pay)')
    .requiredOption('--pin <pin>', "the card holder's PIN (4-8 digits)")
    .option('--pin-key <file>', "the terminal's PIN key (default: the provisioned terminal's)")
    .addHelpText(
      'after',
      '\nA pay is refunded once at most, never for more than was paid, only at the store where it was paid and within head\n' +
        "office's refund window (cardsys host --refund-window-days; default the pay's business day). Refunds need head\n" +
        'office: with the store offline the refund is refused and the card is not touched.',
    )
    .action(async (options: PosCliOptions) =>
      run(options, {
        refund: {
          payEventId: parse(PayEventId, options.pay, 'pay'),
          ...(options.amount === undefined ? {} : { amount: parse(Amount, options.amount, 'amount') }),
          pin: parse(Pin, options.pin, 'pin'),
        },
      }),
    );

  common(
    pos
      .command('return')
      .description(
        "card return: the card holder's PIN verified, head office's consent, the chip's whole balance unloaded to the bank account and the card terminated",
      ),
  )
    .requiredOption('--pin <pin>', "the card holder's PIN (4-8 digits)")
    .option('--pin-key <file>', "the terminal's PIN key (default: the provisioned terminal's)")
    .addHelpText(
      'after',
      '\nNeeds head office: offline the return is refused (head_office_unreachable) and the card is left as it was.\n' +
        'Once returned (code "returned") the card answers no command again: every store refuses it (card_terminated) and\n' +
        'head office shows it closed. A card pulled during the return: insert it and run the return again.',
    )
    .action(async (options: PosCliOptions) => run(options, { cardReturn: { pin: parse(Pin, options.pin, 'pin') } }));

  common(pos.command('read').description("read the card's balance and validity")).action(async (options: PosCliOptions) =>
    run(options, { read: {} }),
  );

  common(
    pos
      .command('issue')
      .description("secondary issuance: write the customer's data to the card in the reader, from the issuance info head office sent"),
  ).action(async (options: PosCliOptions) => run(options, { issue: {} }));

  // Its own command id is always fresh: --command-id names the command asked about.
  common(
    pos
      .command('status')
      .description(
        'what became of an earlier command of this terminal: finished (with its first reply), running, interrupted (the edge stopped ' +
          'during it), recovered (its pay was found on the card later and recorded under its command id), or unknown',
      ),
    '--status-command-id <id>',
  )
    .requiredOption('--command-id <id>', 'the command asked about')
    .addHelpText('after', '\nExit code 0 when the edge knows the command (whatever became of it), 2 when it does not.')
    .action(async (options: PosCliOptions) =>
      run({ ...options, commandId: options.statusCommandId }, { status: { commandId: parse(CommandId, options.commandId, 'command-id') } }),
    );
}
