import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { cardStateFromJson, cardStateToJson, CardStateFormatError, type CardState } from '../application/state.js';

/** Reads a card state file; a missing, unreadable or malformed file is a clear error. */
export function loadCardState(file: string): CardState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read card state file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CardStateFormatError(`card state file ${file} is not valid JSON`);
  }
  try {
    return cardStateFromJson(json);
  } catch (error) {
    throw new CardStateFormatError(`${file}: ${(error as Error).message}`);
  }
}

/**
 * Replaces the card state file atomically and durably: write a temporary file, fsync it, rename it
 * over the old one, fsync the directory. A crash at any point leaves either the old or the new state.
 */
export function saveCardState(file: string, state: CardState): void {
  writeFileAtomic(file, `${JSON.stringify(cardStateToJson(state), null, 2)}\n`);
}

export function writeFileAtomic(file: string, content: string): void {
  const directory = dirname(file);
  const temporary = join(directory, `.${basename(file)}.${process.pid}.tmp`);
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
  const directoryFd = openSync(directory, 'r');
  try {
    fsyncSync(directoryFd);
  } finally {
    closeSync(directoryFd);
  }
}
