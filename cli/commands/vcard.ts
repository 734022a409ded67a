import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import { fromHex, issuerKeysFromJson, newBlankCard, parseBankId } from '../../card/index.js';
import { CARD_LINK_HOST, loadCardState, saveCardState, VirtualCard, VPCD_BASE_PORT } from '../../card/virtual/index.js';
import { vpcdSlot } from '../../infra/pcsc/index.js';
import { answer, say } from '../output.js';
import { DEFAULT_SERVICE_CODE, writeVirtualStripe } from '../../reader/index.js';

interface RunOptions {
  state?: string;
  reader: string;
  host: string;
  port?: string;
}

/** `cardsys vcard`: a virtual IC card in a vpcd reader slot, and `vcard new` / `vcard stripe` to make one. */
export function registerVcardCommands(program: Command): void {
  const vcard = program
    .command('vcard')
    .description('run a virtual IC card in a vpcd reader slot (its state kept in a file); "vcard new" makes a blank card')
    .option('--state <file>', 'card state file (required)')
    .option('--reader <slot>', 'vpcd reader slot 0-7 (see "bash infra/pcsc/pcscd.sh status")', '0')
    .addOption(new Option('--host <address>', 'where vpcd listens (the quickack card link address)').default(CARD_LINK_HOST))
    .option('--port <port>', `vpcd TCP port (default ${VPCD_BASE_PORT} + slot)`)
    .addHelpText(
      'after',
      '\nWhile running: SIGUSR1 or a line "remove" on stdin pulls the card out, SIGUSR2 or "insert" puts it back,\nSIGINT/SIGTERM or "quit" pulls it and exits.',
    )
    .action(async (options: RunOptions) => runVirtualCard(options));

  vcard
    .command('new')
    .description('write a blank card (as it leaves the factory) to a state file')
    .requiredOption('--state <file>', 'card state file to create')
    .addOption(
      new Option('--transport-key <hex>', "the manufacturer's transport key (32 hex digits) head office opens blank cards with").env(
        'CARDSYS_TRANSPORT_KEY',
      ),
    )
    .option('--issuer-keys <file>', "take the transport key from head office's issuer key file instead")
    .option('--force', 'overwrite an existing state file')
    .action((options: { state: string; transportKey?: string; issuerKeys?: string; force?: boolean }) => {
      if (existsSync(options.state) && !options.force) throw new Error(`${options.state} exists; pass --force to replace the card in it`);
      const transportKey = transportKeyFrom(options);
      saveCardState(options.state, newBlankCard(transportKey));
      answer({ state: options.state }, `blank card written to ${options.state}`);
    });

  vcard
    .command('stripe')
    .description("encode the card's magnetic stripe (track 2, kept beside the state file)")
    .requiredOption('--state <file>', 'card state file')
    .requiredOption('--bank <bank-id>', 'bank code-branch code-account number, e.g. 0001-234-5678901')
    .requiredOption('--expiry <YYYY-MM>', 'last month of validity')
    .option('--service-code <digits>', 'ISO/IEC 7813 service code', DEFAULT_SERVICE_CODE)
    .action((options: { state: string; bank: string; expiry: string; serviceCode: string }) => {
      const line = writeVirtualStripe(options.state, {
        bankId: parseBankId(options.bank),
        expiry: options.expiry,
        serviceCode: options.serviceCode,
        discretionary: '',
      });
      answer({ state: options.state, track2: line }, `track 2 written: ${line}`);
    });
}

function transportKeyFrom(options: { transportKey?: string; issuerKeys?: string }): Uint8Array {
  if (options.issuerKeys) return issuerKeysFromJson(JSON.parse(readFileSync(options.issuerKeys, 'utf8'))).transport;
  if (!options.transportKey) throw new Error('give --transport-key <hex> (or CARDSYS_TRANSPORT_KEY) or --issuer-keys <file>');
  const key = fromHex(options.transportKey, 'transport key');
  if (key.length !== 16) throw new Error('transport key must be 16 bytes (32 hex digits)');
  return key;
}

async function runVirtualCard(options: RunOptions): Promise<void> {
  if (!options.state) throw new Error('--state <file> is required (make a card with "cardsys vcard new --state <file>")');
  const stateFile = options.state;
  loadCardState(stateFile);
  const slot = vpcdSlot(Number(options.reader));
  const port = options.port === undefined ? slot.port : Number(options.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`--port must be a TCP port, got ${options.port}`);
  const card = new VirtualCard({ stateFile, port, host: options.host });
  const where = `${options.host}:${port}${options.port === undefined ? ` (slot ${slot.slot}, "${slot.readerName}")` : ''}`;
  let wanted = true;
  let retry: NodeJS.Timeout | undefined;

  const insert = async () => {
    wanted = true;
    clearTimeout(retry);
    try {
      await card.insert();
      say(`card inserted at ${where}`);
    } catch (error) {
      say(`${(error as Error).message}; retrying every second`);
      retry = setTimeout(() => void insert(), 1000);
    }
  };
  const remove = async () => {
    wanted = false;
    clearTimeout(retry);
    await card.remove();
    say('card removed');
  };

  card.on('removed', () => {
    if (!wanted) return;
    say('link to vpcd closed (pcscd stopped?); re-inserting');
    retry = setTimeout(() => void insert(), 1000);
  });
  card.on('error', (error: Error) => say(`virtual card: ${error.message}`));

  const quit = async () => {
    await remove();
    process.exit(0);
  };
  process.on('SIGUSR1', () => void remove());
  process.on('SIGUSR2', () => void insert());
  process.on('SIGINT', () => void quit());
  process.on('SIGTERM', () => void quit());
  createInterface({ input: process.stdin, terminal: false }).on('line', (line) => {
    const command = line.trim();
    if (command === 'remove') void remove();
    else if (command === 'insert') void insert();
    else if (command === 'quit') void quit();
    else if (command) say(`unknown command "${command}" (insert, remove, quit)`);
  });
  await insert();
  // Runs until a signal or "quit".
  await new Promise<never>(() => undefined);
}
