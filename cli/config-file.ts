// `--config <file>` (env CARDSYS_CONFIG): every option of every command can be set in a file, so a
// service's settings live in one place (infra/deploy/systemd/ runs each service with its file).
// A flag beats the environment, which beats the file, which beats the default.
//
//   # /etc/cardsys/edge.conf
//   data = /var/lib/cardsys
//   nats = tls://store-a-broker.lan:4222
//   [edge]
//   store = A
//   reader = pos-1=Virtual PCD 00 00
//
// A key is an option's long name without "--"; a key repeated gives a repeatable option several
// values; `true`/`false` set a switch. Keys before any `[section]` apply to every command that has
// that option (and are ignored by the others); keys in `[edge]`, `[pos]`, `[host provision-store]`,
// … apply to that command and its subcommands, and one the command does not know is an error.
import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Command, Option } from 'commander';

export const CONFIG_ENV = 'CARDSYS_CONFIG';

interface Setting {
  section: string[];
  key: string;
  value: string;
  line: number;
}

export class ConfigFileError extends Error {
  override name = 'ConfigFileError';
}

/** The settings of a configuration file, in order. */
export function parseConfigFile(file: string, text: string): Setting[] {
  const settings: Setting[] = [];
  let section: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    const where = `${file} line ${index + 1}`;
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const header = /^\[([^\]]*)\]$/.exec(line);
    if (header) {
      section = header[1]!.trim().split(/\s+/).filter(Boolean);
      return;
    }
    const pair = /^([A-Za-z][A-Za-z0-9-]*)\s*=\s*(.*)$/.exec(line);
    if (!pair) throw new ConfigFileError(`${where}: expected "name = value" or "[command]", got "${line}"`);
    let value = pair[2]!;
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        throw new ConfigFileError(`${where}: a quoted value must be one JSON string, got ${value}`);
      }
    }
    settings.push({ section, key: pair[1]!, value, line: index + 1 });
  });
  return settings;
}

/** The command `args` runs (the deepest subcommand named), and its path of names. */
function commandOf(program: Command, args: readonly string[]): { command: Command; path: string[] } {
  let command = program;
  const path: string[] = [];
  for (const arg of args) {
    if (arg === '--') break;
    const sub = arg.startsWith('-') ? undefined : command.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (sub) {
      command = sub;
      path.push(sub.name());
    }
  }
  return { command, path };
}

/** The file `--config <file>`, `--config=<file>` or CARDSYS_CONFIG names. */
function configFileOf(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--') break;
    if (args[i] === '--config') return args[i + 1];
    if (args[i]!.startsWith('--config=')) return args[i]!.slice('--config='.length);
  }
  return process.env[CONFIG_ENV] || undefined;
}

/**
 * Sets the options of the command `args` runs from its configuration file, as values of source
 * "config": commander lets the environment and the command line override them.
 */
export function applyConfigFile(program: Command, args: readonly string[]): void {
  const file = configFileOf(args);
  if (file === undefined) return;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigFileError(`--config: cannot read ${file}: ${(error as Error).message}`);
  }
  const { command, path } = commandOf(program, args);
  const byKey = new Map<string, Setting[]>();
  for (const setting of parseConfigFile(file, text)) {
    const applies = setting.section.every((name, i) => path[i] === name);
    if (!applies) continue;
    if (setting.key === 'config') throw new ConfigFileError(`${file} line ${setting.line}: a configuration file cannot name another`);
    const option = command.options.find((o) => o.long === `--${setting.key}`);
    if (!option) {
      if (setting.section.length === 0) continue;
      throw new ConfigFileError(
        `${file} line ${setting.line}: "${setting.key}" is no option of "cardsys ${path.join(' ')}" (see its --help)`,
      );
    }
    const list = byKey.get(setting.key) ?? [];
    // A section's setting overrides a general one; within one scope a key repeats only for lists.
    if (list.length > 0 && list[0]!.section.length < setting.section.length) list.length = 0;
    list.push(setting);
    byKey.set(setting.key, list);
  }
  for (const [key, settings] of byKey) {
    const option = command.options.find((o) => o.long === `--${key}`)!;
    setFromConfig(command, option, settings, file);
  }
}

function setFromConfig(command: Command, option: Option, settings: Setting[], file: string): void {
  const name = option.attributeName();
  const where = (setting: Setting) => `${file} line ${setting.line}`;
  const repeatable = option.variadic || option.parseArg !== undefined;
  if (settings.length > 1 && !repeatable)
    throw new ConfigFileError(`${where(settings[1]!)}: "${settings[1]!.key}" is set twice (first at line ${settings[0]!.line})`);
  let value: unknown;
  if (option.isBoolean()) {
    const text = settings[settings.length - 1]!.value;
    if (text !== 'true' && text !== 'false') throw new ConfigFileError(`${where(settings[0]!)}: "${option.long}" takes true or false`);
    // "no-read-models = true" turns read models off.
    value = (text === 'true') !== option.negate;
  } else {
    for (const setting of settings) {
      if (option.parseArg) value = option.parseArg(setting.value, value);
      else if (option.variadic) value = [...((value as string[] | undefined) ?? []), setting.value];
      else value = setting.value;
    }
    if (option.argChoices && !settings.every((s) => option.argChoices!.includes(s.value)))
      throw new ConfigFileError(`${where(settings[0]!)}: "${option.long}" takes one of ${option.argChoices.join(', ')}`);
  }
  command.setOptionValueWithSource(name, value, 'config');
  // A value from the command line or the environment replaces the file's rather than adding to it.
  const replace = () => {
    if (command.getOptionValueSource(name) === 'config') command.setOptionValueWithSource(name, undefined, undefined);
  };
  // Commander's Command is an EventEmitter; its type declarations leave that out.
  const events = command as unknown as EventEmitter;
  events.prependListener(`option:${option.name()}`, replace);
  events.prependListener(`optionEnv:${option.name()}`, replace);
}
