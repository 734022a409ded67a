import { describe, expect, it } from 'vitest';
import { ConfigFileError, parseConfigFile } from '../../cli/config-file.js';

describe('configuration file syntax', () => {
  it('reads name = value lines, sections, comments and quoted values', () => {
    const settings = parseConfigFile(
      'f',
      ['# comment', 'data = /var/lib/cardsys', '', '[host provision-store]', '; another', 'name = "Store A # 1"', 'nearby=B,C'].join('\n'),
    );
    expect(settings).toEqual([
      { section: [], key: 'data', value: '/var/lib/cardsys', line: 2 },
      { section: ['host', 'provision-store'], key: 'name', value: 'Store A # 1', line: 6 },
      { section: ['host', 'provision-store'], key: 'nearby', value: 'B,C', line: 7 },
    ]);
  });

  it('refuses what is no setting', () => {
    expect(() => parseConfigFile('f', '--data /x')).toThrow(ConfigFileError);
    expect(() => parseConfigFile('f', 'name = "unterminated')).toThrow('f line 1: a quoted value must be one JSON string');
  });
});
