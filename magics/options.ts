// A magic's options: declared once (name, type, description), parsed with commander from the words of the
// magic line, and turned into the usage and help text. Parse failures become short UsageErrors that end with
// the usage line; commander's own suggestions ("did you mean --since?") are kept.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { UsageError } from '../kernel/io/errors';
import { tokenize } from './tokenize';

export type OptionType = 'string' | 'number' | 'boolean' | 'list';

export interface MagicOption {
  /** Long name without dashes: `since` is `--since`. */
  name: string;
  /** One letter: `t` is `-t`. */
  short?: string;
  type: OptionType;
  /** Shown in usage: `--since <duration>`. */
  valueName?: string;
  description: string;
  choices?: readonly string[];
  /** Checks and converts a value (e.g. a duration to seconds); throws an Error whose message says why not. */
  parse?: (value: string) => unknown;
}

export interface MagicPositional {
  name: string;
  description: string;
  required?: boolean;
  /** Every remaining word, joined by one space (a PromQL query, a shell command). */
  rest?: boolean;
}

export interface OptionSpec {
  options: readonly MagicOption[];
  positional?: MagicPositional;
}

export interface ParsedArgs {
  options: Record<string, unknown>;
  /** The positional words joined by a space ('' when none). */
  rest: string;
  words: string[];
}

function flags(o: MagicOption): string {
  const long = `--${o.name}`;
  const head = o.short ? `-${o.short}, ${long}` : long;
  if (o.type === 'boolean') return head;
  return `${head} <${o.valueName ?? (o.type === 'number' ? 'number' : 'value')}>`;
}

function toOption(o: MagicOption): Option {
  const option = new Option(flags(o), o.description);
  if (o.choices) option.choices(o.choices);
  const convert = (value: string): unknown => {
    if (o.type === 'number') {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`"${value}" is not a number`);
      if (!o.parse) return n;
    }
    if (!o.parse) return value;
    try {
      return o.parse(value);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
  if (o.type === 'list') option.argParser((value: string, previous: unknown) => [...(Array.isArray(previous) ? previous : []), convert(value)]);
  else if (o.type !== 'boolean' && !o.choices) option.argParser((value: string) => convert(value));
  return option;
}

function command(name: string, spec: OptionSpec, output: { text: string }): Command {
  const cmd = new Command(`%${name}`)
    .exitOverride()
    .helpOption('-h, --help', 'show this help')
    .configureOutput({ writeOut: (s) => (output.text += s), writeErr: (s) => (output.text += s), outputError: () => undefined })
    .allowExcessArguments(false);
  const p = spec.positional;
  if (p) cmd.argument(p.required ? `<${p.name}${p.rest ? '...' : ''}>` : `[${p.name}${p.rest ? '...' : ''}]`, p.description);
  for (const o of spec.options) cmd.addOption(toOption(o));
  return cmd;
}

/** The one-line usage: `%promql [options] [query...]`. */
export function usageLine(name: string, spec: OptionSpec): string {
  return `usage: ${command(name, spec, { text: '' }).name()} ${command(name, spec, { text: '' }).usage()}`;
}

/** The full help text generated from the option definitions, as `%name --help` and `%name?` show it. */
export function helpText(name: string, summary: string, spec: OptionSpec): string {
  const cmd = command(name, spec, { text: '' }).description(summary);
  return cmd.helpInformation();
}

/** commander's message without its "error: " prefix, on one line, suggestions kept. */
function shortMessage(e: CommanderError): string {
  return e.message.replace(/^error: /, '').replace(/\n\(Did you mean (.*)\?\)/, ' (did you mean $1?)').replace(/\s*\n\s*/g, ' ').trim();
}

/** Parses a magic's argument text. Throws UsageError; `--help` is not parsed here (see wantsHelp). */
export function parseArgs(name: string, spec: OptionSpec, text: string): ParsedArgs {
  return parseWords(name, spec, tokenize(text));
}

/** Parses words already split (a cell magic's lines, each tokenized on its own). Throws UsageError. */
export function parseWords(name: string, spec: OptionSpec, words: string[]): ParsedArgs {
  const output = { text: '' };
  const cmd = command(name, spec, output);
  try {
    cmd.parse(words, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) throw new UsageError(`%${name}: ${shortMessage(e)}`, usageLine(name, spec));
    throw e;
  }
  const options: Record<string, unknown> = {};
  const values = cmd.opts();
  for (const o of spec.options) {
    const key = o.name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (values[key] !== undefined) options[o.name] = values[key];
  }
  const positional = cmd.args;
  return { options, rest: positional.join(' '), words };
}

/** `%name --help` / `-h` anywhere among the words (before a `--`). */
export function wantsHelp(text: string): boolean {
  let words: string[];
  try {
    words = tokenize(text);
  } catch {
    return false;
  }
  const end = words.indexOf('--');
  return (end < 0 ? words : words.slice(0, end)).some((w) => w === '--help' || w === '-h');
}
