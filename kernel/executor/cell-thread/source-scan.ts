// A small JavaScript scanner: where strings, comments, template texts and regex literals are, and which
// parentheses are still open, without parsing (the cell being typed is rarely valid yet).
import { ID_CHAR } from './identifiers';

export type ScanState = 'code' | 'single' | 'double' | 'template' | 'line-comment' | 'block-comment' | 'regex';

export interface ScanResult {
  state: ScanState;
  /** Where the string the scan ended in starts: its quote, or the `}` that closed a template's `${…}`. */
  start: number;
  /** The template text the scan ended in follows a `${…}` substitution. */
  afterSubstitution: boolean;
  /** Positions of the `(` not closed yet, innermost last. */
  openParens: number[];
}

const REGEX_AFTER_CHAR = new Set('(,=:[!&|?{};+-*%<>~^'.split(''));
const REGEX_AFTER_WORD = new Set(['return', 'typeof', 'instanceof', 'in', 'of', 'new', 'delete', 'void', 'throw', 'case', 'do', 'else', 'yield', 'await']);

function regexCanStart(text: string, prevSig: number): boolean {
  if (prevSig < 0) return true;
  const c = text[prevSig];
  if (REGEX_AFTER_CHAR.has(c)) return true;
  if (!ID_CHAR.test(c)) return false;
  const word = /[\p{ID_Continue}$]+$/u.exec(text.slice(Math.max(0, prevSig - 15), prevSig + 1))?.[0] ?? '';
  return REGEX_AFTER_WORD.has(word);
}

export function isSpace(c: string): boolean {
  return c === ' ' || c === '\n' || c === '\t' || c === '\r';
}

/**
 * Walks JavaScript text and reports the state at its end. `visit` sees each character that is code (not inside a
 * string, comment, template text or regex literal); returning true stops the walk there.
 */
export function scan(text: string, visit?: (i: number) => boolean): ScanResult {
  let state: ScanState = 'code';
  let start = 0;
  let afterSubstitution = false;
  let prevSig = -1;
  let braces = 0;
  let inClass = false;
  const substitutions: number[] = [];
  const openParens: number[] = [];
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text[i];
    switch (state) {
      case 'code':
        if (c === '/' && text[i + 1] === '/') {
          state = 'line-comment';
          i++;
        } else if (c === '/' && text[i + 1] === '*') {
          state = 'block-comment';
          i++;
        } else if (c === '"' || c === "'") {
          state = c === '"' ? 'double' : 'single';
          start = i;
        } else if (c === '`') {
          state = 'template';
          start = i;
          afterSubstitution = false;
        } else if (c === '/' && regexCanStart(text, prevSig)) {
          state = 'regex';
          inClass = false;
          start = i;
        } else if (c === '}' && substitutions.length > 0 && substitutions[substitutions.length - 1] === braces) {
          substitutions.pop();
          state = 'template';
          start = i;
          afterSubstitution = true;
        } else {
          if (c === '{') braces++;
          else if (c === '}') braces--;
          else if (c === '(') openParens.push(i);
          else if (c === ')') openParens.pop();
          if (visit?.(i)) return { state, start, afterSubstitution, openParens };
          if (!isSpace(c)) prevSig = i;
        }
        break;
      case 'single':
      case 'double':
        if (c === '\\') i++;
        else if (c === '\n') state = 'code';
        else if (c === (state === 'single' ? "'" : '"')) {
          state = 'code';
          prevSig = i;
        }
        break;
      case 'template':
        if (c === '\\') i++;
        else if (c === '`') {
          state = 'code';
          prevSig = i;
        } else if (c === '$' && text[i + 1] === '{') {
          substitutions.push(braces);
          state = 'code';
          i++;
          prevSig = i;
        }
        break;
      case 'line-comment':
        if (c === '\n') state = 'code';
        break;
      case 'block-comment':
        if (c === '*' && text[i + 1] === '/') {
          state = 'code';
          i++;
        }
        break;
      case 'regex':
        if (c === '\\') i++;
        else if (c === '\n') state = 'code';
        else if (inClass) inClass = c !== ']';
        else if (c === '[') inClass = true;
        else if (c === '/') {
          state = 'code';
          prevSig = i;
        }
        break;
    }
  }
  return { state, start, afterSubstitution, openParens };
}
