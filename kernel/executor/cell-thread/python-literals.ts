// Python assignments of literal values, read into JavaScript values: the language of papermill's injected `-l python`
// parameters cell in every layout black gives it (papermill formats the cell with black whenever black imports):
// values spread over lines inside brackets, trailing commas, a value moved into parentheses, strings split into
// parenthesised implicit concatenation, either quote, triple quotes, comments. Like Python's ast.literal_eval, no
// names but True/False/None and float('nan'/'inf'); unlike it, no sets, bytes, complex numbers or non-string
// dict keys (JavaScript values have no spelling for them and papermill never writes them).
//
// Hand-written rather than a Python grammar from npm (@lezer/python, tree-sitter-python): those give a syntax tree
// that still needs walking, escape decoding and a check for error-recovery nodes, for one statement form over six
// literal kinds; this reader is that walk, with exact errors instead of recovery.

/** A value a Python literal can hold in JavaScript: what JSON holds, plus NaN, ±Infinity and -0. */
export type LiteralValue = null | boolean | number | string | LiteralValue[] | { [key: string]: LiteralValue };

/** `name = value` on `line` (0-based) through `endLine`. */
export interface LiteralAssignment {
  name: string;
  value: LiteralValue;
  line: number;
  endLine: number;
}

export class LiteralSyntaxError extends Error {}

type TokenKind = 'name' | 'number' | 'string' | 'op' | 'newline' | 'end';

interface Token {
  kind: TokenKind;
  text: string;
  /** The decoded string or the number. */
  value?: string | number;
  line: number;
}

const NUMBER = /(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?)(?![\w.])/y;
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;
const OPS = '[]{}(),:=+-';
const SIMPLE_ESCAPES: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

function numberValue(text: string): number {
  const digits = text.replace(/_/g, '');
  if (/^0[oO]/.test(digits)) return parseInt(digits.slice(2), 8);
  if (/^0[bB]/.test(digits)) return parseInt(digits.slice(2), 2);
  return Number(digits); // decimal, float and 0x forms read as in Python
}

/** The body of a string literal (between its quotes) with Python's escapes decoded. */
function decodeEscapes(body: string): string {
  return body.replace(/\\(\n|[\\'"abfnrtv]|[0-7]{1,3}|x[\s\S]{0,2}|u[\s\S]{0,4}|U[\s\S]{0,8}|N|[\s\S])/g, (whole, e: string) => {
    if (e === '\n') return ''; // a backslash at the end of a line continues the string
    if (e in SIMPLE_ESCAPES) return SIMPLE_ESCAPES[e];
    if (/^[0-7]/.test(e)) return String.fromCodePoint(parseInt(e, 8));
    const hex = { x: 2, u: 4, U: 8 }[e[0]];
    if (hex !== undefined) {
      const digits = e.slice(1);
      const code = parseInt(digits, 16);
      if (digits.length !== hex || !/^[0-9a-fA-F]+$/.test(digits) || code > 0x10ffff) throw new LiteralSyntaxError(`bad escape \\${e}`);
      return String.fromCodePoint(code);
    }
    if (e === 'N') throw new LiteralSyntaxError('\\N{name} escapes are not read'); // papermill writes \x, \u and \U
    return whole; // Python keeps an unknown escape as it is
  });
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  let line = 0;
  let depth = 0;
  const push = (kind: TokenKind, tokenText: string, value?: string | number) => tokens.push({ kind, text: tokenText, value, line });
  while (at < text.length) {
    const c = text[at];
    if (c === '\n') {
      // inside brackets a newline is only space; outside, it ends a statement (blank lines add nothing)
      if (depth === 0 && tokens.length > 0 && tokens[tokens.length - 1].kind !== 'newline') push('newline', '\n');
      line++;
      at++;
    } else if (c === ' ' || c === '\t' || c === '\f' || c === '\r') {
      at++;
    } else if (c === '#') {
      while (at < text.length && text[at] !== '\n') at++;
    } else if (c === '\\' && text[at + 1] === '\n') {
      line++;
      at += 2;
    } else if (OPS.includes(c)) {
      if ('[{('.includes(c)) depth++;
      if (']})'.includes(c) && --depth < 0) throw new LiteralSyntaxError(`unmatched ${c}`);
      push('op', c);
      at++;
    } else if (/[0-9.]/.test(c)) {
      NUMBER.lastIndex = at;
      const m = NUMBER.exec(text);
      if (!m) throw new LiteralSyntaxError(`not a number at ${JSON.stringify(text.slice(at, at + 10))}`);
      push('number', m[0], numberValue(m[0]));
      at += m[0].length;
    } else {
      NAME.lastIndex = at;
      const name = NAME.exec(text)?.[0] ?? '';
      const quoteAt = at + name.length;
      if (text[quoteAt] === '"' || text[quoteAt] === "'") {
        const prefix = name.toLowerCase();
        if (prefix !== '' && prefix !== 'r' && prefix !== 'u') throw new LiteralSyntaxError(`${name}"..." strings are not literals papermill writes`);
        at = readString(quoteAt, prefix === 'r');
      } else if (name) {
        push('name', name);
        at += name.length;
      } else {
        throw new LiteralSyntaxError(`unexpected ${JSON.stringify(c)}`);
      }
    }
  }

  /** Reads the string whose opening quote is at `start`, pushes its token, returns where it ends. */
  function readString(start: number, raw: boolean): number {
    const quote = text.startsWith(text[start].repeat(3), start) ? text[start].repeat(3) : text[start];
    const startLine = line;
    let at = start + quote.length;
    const bodyStart = at;
    for (;;) {
      if (at >= text.length) throw new LiteralSyntaxError('unterminated string');
      const c = text[at];
      if (c === '\\') {
        if (text[at + 1] === '\n') line++;
        at += 2;
      } else if (text.startsWith(quote, at)) {
        const body = text.slice(bodyStart, at);
        tokens.push({ kind: 'string', text: text.slice(start, at + quote.length), value: raw ? body : decodeEscapes(body), line: startLine });
        return at + quote.length;
      } else {
        if (c === '\n') {
          if (quote.length === 1) throw new LiteralSyntaxError('unterminated string');
          line++;
        }
        at++;
      }
    }
  }

  if (depth > 0) throw new LiteralSyntaxError('unclosed bracket');
  if (tokens.length > 0 && tokens[tokens.length - 1].kind !== 'newline') push('newline', '\n');
  push('end', '');
  return tokens;
}

const SPECIAL_FLOAT = /^\s*([+-]?)(nan|inf|infinity)\s*$/i;

class Parser {
  private at = 0;
  constructor(private readonly tokens: Token[]) {}

  assignments(): LiteralAssignment[] {
    const out: LiteralAssignment[] = [];
    while (this.peek().kind !== 'end') {
      const name = this.next();
      if (name.kind !== 'name') throw new LiteralSyntaxError(`expected a name, found ${JSON.stringify(name.text)}`);
      this.expect('=');
      const value = this.value();
      const end = this.next();
      if (end.kind !== 'newline') throw new LiteralSyntaxError(`one value per assignment (after ${name.text} = ...)`);
      out.push({ name: name.text, value, line: name.line, endLine: end.line });
    }
    return out;
  }

  private peek(): Token {
    return this.tokens[this.at];
  }

  private next(): Token {
    const token = this.tokens[this.at];
    if (token.kind !== 'end') this.at++;
    return token;
  }

  private isOp(op: string): boolean {
    const token = this.peek();
    return token.kind === 'op' && token.text === op;
  }

  private expect(op: string): void {
    const token = this.next();
    if (token.kind !== 'op' || token.text !== op) throw new LiteralSyntaxError(`expected ${op}, found ${JSON.stringify(token.text)}`);
  }

  private value(): LiteralValue {
    const token = this.next();
    switch (token.kind) {
      case 'string': {
        let text = token.value as string;
        while (this.peek().kind === 'string') text += this.next().value as string; // implicit concatenation
        return text;
      }
      case 'number':
        return token.value as number;
      case 'name':
        return this.named(token.text);
      case 'op':
        if (token.text === '-' || token.text === '+') {
          const operand = this.value();
          if (typeof operand !== 'number') throw new LiteralSyntaxError(`${token.text} before a value that is not a number`);
          return token.text === '-' ? -operand : operand;
        }
        if (token.text === '[') return this.items(']');
        if (token.text === '(') return this.parenthesised();
        if (token.text === '{') return this.dict();
    }
    throw new LiteralSyntaxError(`not a literal: ${JSON.stringify(token.text)}`);
  }

  private named(name: string): LiteralValue {
    if (name === 'True') return true;
    if (name === 'False') return false;
    if (name === 'None') return null;
    if (name === 'float' && this.isOp('(')) {
      this.next();
      const arg = this.value();
      this.expect(')');
      const special = typeof arg === 'string' ? SPECIAL_FLOAT.exec(arg) : null;
      if (!special) throw new LiteralSyntaxError(`float(${JSON.stringify(arg)}) is not float('nan') or float('inf')`);
      return special[2].toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
    }
    throw new LiteralSyntaxError(`${name} is not a literal`);
  }

  /** Comma-separated values up to `close`, a trailing comma allowed. */
  private items(close: string): LiteralValue[] {
    const out: LiteralValue[] = [];
    while (!this.isOp(close)) {
      out.push(this.value());
      if (!this.isOp(close)) this.expect(',');
    }
    this.next();
    return out;
  }

  /** `(value)` is the value; `()`, `(value,)` and `(a, b)` are tuples, read as arrays. */
  private parenthesised(): LiteralValue {
    if (this.isOp(')')) {
      this.next();
      return [];
    }
    const first = this.value();
    if (this.isOp(')')) {
      this.next();
      return first;
    }
    this.expect(',');
    return [first, ...this.items(')')];
  }

  private dict(): { [key: string]: LiteralValue } {
    const out: { [key: string]: LiteralValue } = {};
    while (!this.isOp('}')) {
      const key = this.value();
      if (typeof key !== 'string') throw new LiteralSyntaxError('dict keys must be strings');
      this.expect(':');
      // defined, not assigned: a "__proto__" key is a key like any other, not the object's prototype
      Object.defineProperty(out, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
      if (!this.isOp('}')) this.expect(',');
    }
    this.next();
    return out;
  }
}

/** The `name = literal` statements of Python source (comments and blank lines allowed); throws LiteralSyntaxError. */
export function readLiteralAssignments(source: string): LiteralAssignment[] {
  return new Parser(tokenize(source.replace(/\r\n?/g, '\n'))).assignments();
}
