// The PIN on its way from a POS terminal to its store's edge: an ISO 9564-1 format 4 PIN block
// (AES-128) under the terminal's own PIN key. See contracts/pos-terminals.md for why format 4 and
// what stands in for the account number.
//
// Plain PIN field (16 bytes): control nibble 4, PIN length, the PIN digits, fill nibbles A up to
// nibble 15, then 8 random bytes. Binding field (16 bytes, where format 4 puts the account number):
// nibble 7 (19 digits), 19 decimal digits derived from (store, terminal, command id), zeros. Block
// = AES(K, AES(K, PIN field) XOR binding field).
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const PIN_BLOCK_BYTES = 16;
const PIN_KEY_BYTES = 16;
const FORMAT = 4;
const FILL = 0xa;
const BINDING_DIGITS = 19;

/** A PIN block that does not open: not a block, another key or command, or not a format 4 PIN field. */
export class PinBlockError extends Error {
  override name = 'PinBlockError';
}

/** What a PIN block is bound to: one command of one terminal. A block made for one does not open as another. */
export interface PinBinding {
  storeId: string;
  terminalId: string;
  commandId: string;
}

const nibblesToBytes = (nibbles: number[]): Buffer => {
  const bytes = Buffer.alloc(nibbles.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (nibbles[2 * i]! << 4) | nibbles[2 * i + 1]!;
  return bytes;
};
const bytesToNibbles = (bytes: Uint8Array): number[] => [...bytes].flatMap((byte) => [byte >> 4, byte & 0xf]);

function aes(key: Uint8Array, block: Uint8Array, direction: 'encrypt' | 'decrypt'): Buffer {
  const cipher = direction === 'encrypt' ? createCipheriv('aes-128-ecb', key, null) : createDecipheriv('aes-128-ecb', key, null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(block), cipher.final()]);
}

function checkKey(key: Uint8Array): void {
  if (key.length !== PIN_KEY_BYTES) throw new PinBlockError(`a PIN key has ${PIN_KEY_BYTES} bytes, got ${key.length}`);
}

/** The field format 4 XORs in where it would put the account number: 19 digits of the command's digest. */
function bindingField(binding: PinBinding): Buffer {
  const digest = createHash('sha256')
    .update(`cardsys/pin-block\0${binding.storeId}\0${binding.terminalId}\0${binding.commandId}`, 'utf8')
    .digest();
  const digits = (digest.readBigUInt64BE(0) % 10n ** BigInt(BINDING_DIGITS)).toString().padStart(BINDING_DIGITS, '0');
  const nibbles = [BINDING_DIGITS - 12, ...[...digits].map(Number)];
  return nibblesToBytes([...nibbles, ...new Array<number>(32 - nibbles.length).fill(0)]);
}

/** Encrypts a PIN of 4-12 digits into a format 4 PIN block bound to the command. */
export function encryptPinBlock(key: Uint8Array, pin: string, binding: PinBinding): Uint8Array {
  checkKey(key);
  if (!/^\d{4,12}$/.test(pin)) throw new PinBlockError('a PIN is 4 to 12 digits');
  const head = [FORMAT, pin.length, ...[...pin].map(Number)];
  const field = Buffer.concat([nibblesToBytes([...head, ...new Array<number>(16 - head.length).fill(FILL)]), randomBytes(8)]);
  const intermediate = aes(key, field, 'encrypt');
  const bound = bindingField(binding);
  for (let i = 0; i < PIN_BLOCK_BYTES; i++) intermediate[i]! ^= bound[i]!;
  return new Uint8Array(aes(key, intermediate, 'encrypt'));
}

/** The PIN a format 4 PIN block holds; PinBlockError when it does not open under this key and command. */
export function decryptPinBlock(key: Uint8Array, block: Uint8Array, binding: PinBinding): string {
  checkKey(key);
  if (block.length !== PIN_BLOCK_BYTES) throw new PinBlockError(`a PIN block has ${PIN_BLOCK_BYTES} bytes, got ${block.length}`);
  const intermediate = aes(key, block, 'decrypt');
  const bound = bindingField(binding);
  for (let i = 0; i < PIN_BLOCK_BYTES; i++) intermediate[i]! ^= bound[i]!;
  const nibbles = bytesToNibbles(aes(key, intermediate, 'decrypt')).slice(0, 16);
  const [format, length] = nibbles as [number, number];
  const digits = nibbles.slice(2, 2 + length);
  const fill = nibbles.slice(2 + length);
  if (format !== FORMAT || length < 4 || length > 12 || digits.some((d) => d > 9) || fill.some((f) => f !== FILL))
    throw new PinBlockError('the PIN block does not open with this terminal key for this command');
  return digits.join('');
}

/** The PIN key of one terminal, derived from its store's PIN master key (HMAC-SHA256, first 16 bytes). */
export function terminalPinKey(pinMasterKey: Uint8Array, storeId: string, terminalId: string): Uint8Array {
  checkKey(pinMasterKey);
  return new Uint8Array(
    createHmac('sha256', pinMasterKey).update(`cardsys/pin-key\0${storeId}\0${terminalId}`, 'utf8').digest().subarray(0, PIN_KEY_BYTES),
  );
}

export const generatePinKey = (): Uint8Array => new Uint8Array(randomBytes(PIN_KEY_BYTES));

/** Writes a PIN key (32 hex digits, mode 0600). */
export function savePinKey(key: Uint8Array, file: string): void {
  checkKey(key);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${Buffer.from(key).toString('hex')}\n`, { mode: 0o600 });
}

export function loadPinKey(file: string): Uint8Array {
  if (!existsSync(file)) throw new PinBlockError(`no PIN key at ${file}`);
  const text = readFileSync(file, 'utf8').trim();
  if (!/^[0-9a-f]{32}$/i.test(text)) throw new PinBlockError(`${file} is not a PIN key (expected 32 hex digits)`);
  return new Uint8Array(Buffer.from(text, 'hex'));
}
