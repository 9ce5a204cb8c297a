// papermill's injected parameters, read as TypeScript values. papermill has no TypeScript translator; run with
// `-l python` it injects a cell of Python literals: a `# Parameters` comment, then `name = value` lines with
// strings (double-quoted, unicode_escape'd), numbers, True/False/None, float('nan') / float('inf'), lists and
// dicts. Exactly that form (and nothing else) becomes `const name = <value>;` lines, one per line.

/** A Python literal as papermill writes it, parsed into the equivalent JSON-able value. */
class LiteralReader {
  private at = 0;
  constructor(private readonly text: string) {}

  read(): unknown {
    const value = this.value();
    this.space();
    if (this.at !== this.text.length) throw new Error(`unexpected ${JSON.stringify(this.text.slice(this.at, this.at + 10))}`);
    return value;
  }

  private space(): void {
    while (this.at < this.text.length && /[ \t]/.test(this.text[this.at])) this.at++;
  }

  private take(word: string): boolean {
    if (this.text.startsWith(word, this.at)) {
      this.at += word.length;
      return true;
    }
    return false;
  }

  private value(): unknown {
    this.space();
    const c = this.text[this.at];
    if (c === '"' || c === "'") return this.string(c);
    if (c === '[') return this.list();
    if (c === '{') return this.dict();
    if (this.take('True')) return true;
    if (this.take('False')) return false;
    if (this.take('None')) return null;
    for (const [form, v] of [["float('nan')", NaN], ["float('inf')", Infinity], ["float('-inf')", -Infinity], ['float("nan")', NaN], ['float("inf")', Infinity], ['float("-inf")', -Infinity]] as const) {
      if (this.take(form)) return v;
    }
    const number = /^-?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)/.exec(this.text.slice(this.at));
    if (number) {
      this.at += number[0].length;
      return Number(number[0]);
    }
    throw new Error(`not a literal papermill writes at ${JSON.stringify(this.text.slice(this.at, this.at + 10))}`);
  }

  private string(quote: string): string {
    this.at++;
    let out = '';
    while (this.at < this.text.length) {
      const c = this.text[this.at++];
      if (c === quote) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.text[this.at++];
      const hex = (n: number) => {
        const h = this.text.slice(this.at, this.at + n);
        if (!/^[0-9a-fA-F]+$/.test(h) || h.length !== n) throw new Error('bad escape in a string');
        this.at += n;
        return String.fromCodePoint(parseInt(h, 16));
      };
      const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', '"': '"', "'": "'", b: '\b', f: '\f', v: '\v', a: '\x07', '0': '\0' };
      if (e === 'x') out += hex(2);
      else if (e === 'u') out += hex(4);
      else if (e === 'U') out += hex(8);
      else if (e in simple) out += simple[e];
      else out += `\\${e}`;
    }
    throw new Error('unterminated string');
  }

  private list(): unknown[] {
    this.at++;
    const items: unknown[] = [];
    this.space();
    if (this.take(']')) return items;
    for (;;) {
      items.push(this.value());
      this.space();
      if (this.take(']')) return items;
      if (!this.take(',')) throw new Error('expected , or ] in a list');
      this.space();
      if (this.take(']')) return items;
    }
  }

  private dict(): Record<string, unknown> {
    this.at++;
    const out: Record<string, unknown> = {};
    this.space();
    if (this.take('}')) return out;
    for (;;) {
      this.space();
      const quote = this.text[this.at];
      if (quote !== '"' && quote !== "'") throw new Error('dict keys must be strings');
      const key = this.string(quote);
      this.space();
      if (!this.take(':')) throw new Error('expected : in a dict');
      Object.defineProperty(out, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.space();
      if (this.take('}')) return out;
      if (!this.take(',')) throw new Error('expected , or } in a dict');
      this.space();
      if (this.take('}')) return out;
    }
  }
}

/** A value as TypeScript source (JSON, except the numbers JSON has no spelling for). */
function source(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : value === Infinity ? 'Infinity' : value === -Infinity ? '-Infinity' : JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(source).join(', ')}]`;
  if (value !== null && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${source(v)}`).join(', ')}}`;
  return JSON.stringify(value);
}

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/;

/**
 * The TypeScript for a cell that is exactly papermill's injected Python parameters (line for line, so errors
 * keep their line numbers), or undefined for any other cell.
 */
export function papermillParameters(cell: string): string | undefined {
  const lines = cell.replace(/\r\n/g, '\n').split('\n');
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0 || lines[first].trim() !== '# Parameters') return undefined;
  const out: string[] = [];
  for (const [i, line] of lines.entries()) {
    if (i <= first || line.trim() === '' || line.trim().startsWith('#')) {
      out.push(i === first ? '// Parameters (injected by papermill, read as TypeScript values)' : line.trim().startsWith('#') ? `//${line.trim().slice(1)}` : line);
      continue;
    }
    const m = ASSIGNMENT.exec(line);
    if (!m) return undefined;
    let value: unknown;
    try {
      value = new LiteralReader(m[2]).read();
    } catch {
      return undefined;
    }
    out.push(`const ${m[1]} = ${source(value)};`);
  }
  return out.join('\n');
}
