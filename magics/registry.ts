// The magic registry: what a magic is (an async function of parsed arguments, cell body and the Io that
// returns a value), where magics register, and how a magic line is run: lookup (with the
// closest names when unknown), `%name?` / `--help`, option parsing, then the magic itself.
// magics/ depends on kernel/io/ and nothing else in kernel/.
import { distance } from 'fastest-levenshtein';
import type { Io } from '../kernel/io/io';
import type { CellMagics, MagicRequest } from '../kernel/io/magics';
import { UsageError } from '../kernel/io/errors';
import { OptionSpec, ParsedArgs, helpText, parseArgs, wantsHelp } from './options';

export type { MagicOption, MagicPositional } from './options';

/** Everything a magic gets when it runs. */
export interface MagicCall {
  args: ParsedArgs;
  /** The body of a `%%name` cell magic (interpolated), undefined for a line magic. */
  body: string | undefined;
  io: Io;
  /** The line binds the result (`const r = %name ...`): a magic may then skip showing what it returns. */
  bound: boolean;
  /** The argument text as typed (after interpolation), for magics that take it whole. */
  text: string;
}

export interface Magic extends OptionSpec {
  name: string;
  /** One line for %lsmagic and completion. */
  summary: string;
  /** `line`: `%name`, `cell`: `%%name`, `both`. */
  kind: 'line' | 'cell' | 'both';
  /** The argument text is the magic's own (a shell command): no option parsing, no --help. */
  rawArgs?: boolean;
  run(call: MagicCall): Promise<unknown>;
  /** Completes the magic's own arguments (`before`: argument text up to the cursor); `replace` chars are replaced. */
  completeArguments?(before: string): Promise<{ matches: string[]; replace: number }>;
}


/** A value that displays as plain text (help, %lsmagic) through Deno's display convention. */
export function textValue(text: string): object {
  return { [Symbol.for('Jupyter.display')]: () => ({ 'text/plain': text }) };
}

/** The magics a kernel has; the kernel calls them through CellMagics (kernel/io/magics.ts). */
export class MagicRegistry implements CellMagics {
  private readonly magics = new Map<string, Magic>();

  register(magic: Magic): void {
    if (this.magics.has(magic.name)) throw new Error(`a magic named %${magic.name} is already registered`);
    this.magics.set(magic.name, magic);
  }

  get(name: string): Magic | undefined {
    return this.magics.get(name);
  }

  names(): string[] {
    return [...this.magics.keys()].sort();
  }

  list(): Magic[] {
    return this.names().map((n) => this.magics.get(n) as Magic);
  }

  /** Up to three registered names closest to a mistyped one. */
  closest(name: string): string[] {
    return this.names()
      .map((n) => ({ n, d: n.startsWith(name) || name.startsWith(n) ? 0 : distance(n, name) }))
      .filter(({ d }) => d <= Math.max(2, Math.floor(name.length / 3)))
      .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n))
      .slice(0, 3)
      .map(({ n }) => `%${n}`);
  }

  help(magic: Magic): string {
    const kind = magic.kind === 'both' ? ` (also %%${magic.name} with one item per line)` : magic.kind === 'cell' ? ' (a cell magic: %%name on the first line)' : '';
    if (magic.rawArgs) return `%${magic.name}: ${magic.summary}${kind}`;
    return `${helpText(magic.name, magic.summary, magic)}${kind ? `\n${kind.trim()}\n` : ''}`;
  }

  /** Runs one magic line or cell magic. Expected failures are UsageError / MagicError (no stack trace). */
  async run(request: MagicRequest, io: Io): Promise<unknown> {
    const magic = this.magics.get(request.name);
    const sigil = request.cell ? '%%' : '%';
    if (!magic) {
      const near = this.closest(request.name);
      throw new UsageError(`unknown magic ${sigil}${request.name}${near.length ? ` (did you mean ${near.join(', ')}?)` : ''}`, '%lsmagic lists every magic');
    }
    if (request.cell && magic.kind === 'line') throw new UsageError(`%${magic.name} is a line magic: write %${magic.name} on a line of its own, not %%${magic.name}`);
    if (!request.cell && magic.kind === 'cell') throw new UsageError(`%%${magic.name} is a cell magic: put %%${magic.name} on the cell's first line and the input below it`);
    if (request.help || (!magic.rawArgs && wantsHelp(request.text))) return textValue(this.help(magic));
    const args = magic.rawArgs ? { options: {}, rest: request.text.trim(), words: [] } : parseArgs(magic.name, magic, request.text);
    return magic.run({ args, body: request.body, io, bound: request.bound, text: request.text });
  }

  /** The magic's own completion of its arguments, or undefined when it has none. */
  completeArguments(name: string, before: string): Promise<{ matches: string[]; replace: number }> | undefined {
    return this.magics.get(name)?.completeArguments?.(before);
  }

  /** Completion hook: magic names after `%`, option names after a magic's name. */
  complete(prefix: string, magicName?: string): string[] {
    if (magicName === undefined) return this.names().filter((n) => n.startsWith(prefix));
    const magic = this.magics.get(magicName);
    if (!magic || magic.rawArgs) return [];
    return [...magic.options.map((o) => `--${o.name}`), '--help'].filter((o) => o.startsWith(prefix));
  }
}
