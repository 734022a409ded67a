import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const contracts = resolve(import.meta.dirname, '../../contracts');
const buf = resolve(import.meta.dirname, '../../node_modules/.bin/buf');

/** Runs `buf breaking` on a copy of the protos changed by `edit`, against the committed baseline. */
function breakingAfter(edit: (events: string) => string) {
  const dir = mkdtempSync(join(tmpdir(), 'cardsys-protos-'));
  cpSync(join(contracts, 'proto'), join(dir, 'proto'), { recursive: true });
  cpSync(join(contracts, 'buf.yaml'), join(dir, 'buf.yaml'));
  const events = join(dir, 'proto/cardsys/v1/events.proto');
  writeFileSync(events, edit(readFileSync(events, 'utf8')));
  return spawnSync(buf, ['breaking', 'proto', '--against', join(contracts, 'baseline.binpb')], { cwd: dir, encoding: 'utf8' });
}

describe('protobuf compatibility against the committed baseline', () => {
  it('accepts the protos as they are', () => {
    const result = breakingAfter((events) => events);
    expect(result.stderr + result.stdout).toBe('');
    expect(result.status).toBe(0);
  });

  it('refuses a renumbered field', () => {
    const result = breakingAfter((events) => events.replace(/(message PursePaid \{\s*string card_id = )1;/, '$121;'));
    expect(result.status).not.toBe(0);
    expect(result.stdout).toMatch(/PursePaid/);
  });

  it('refuses a removed field', () => {
    const result = breakingAfter((events) => events.replace(/(message PursePaid \{[^}]*?)\s*uint64 amount = 2;/, '$1'));
    expect(result.status).not.toBe(0);
    expect(result.stdout).toMatch(/"amount"/);
  });
});
