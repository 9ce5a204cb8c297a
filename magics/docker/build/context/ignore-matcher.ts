// Matching paths against .dockerignore patterns as moby/patternmatcher does: patterns compiled once into exact,
// prefix, suffix or regexp matches (with its shortcuts and quirks), the last matching pattern wins, '!' exceptions
// re-include, a directory's per-pattern results are handed to its children (MatchesUsingParentResults), and bad
// patterns fail with the CLI's "syntax error in pattern".
import * as path from 'node:path';
import { goClean, goTrimSpace } from './go-strings';

type MatchKind = 'exact' | 'prefix' | 'suffix' | 'regexp';

interface IgnorePattern {
  /** The cleaned pattern without its '!'. */
  text: string;
  exclusion: boolean;
  kind: MatchKind;
  regexp: RegExp | null;
  /** Set when the regexp does not compile; matching then fails like Go's ErrBadPattern. */
  invalid: boolean;
}

/** Per-pattern results of a parent directory (patternmatcher.MatchInfo); null is Go's zero value. */
export type ParentMatches = readonly boolean[] | null;

const SYNTAX_ERROR = 'syntax error in pattern';
/** Characters patternmatcher escapes because they mean something in a regexp but nothing in a glob. */
const REGEXP_ONLY_CHARS = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);
/** '?' matches one rune; JavaScript regexps without the u flag see UTF-16 units, so a surrogate pair is spelled out. */
const ANY_RUNE_BUT_SLASH = '(?:[\\ud800-\\udbff][\\udc00-\\udfff]|[^/])';
/** Go's '.' (no s flag) is any rune but '\n'; JavaScript's '.' also stops at '\r', U+2028 and U+2029. */
const ANY_RUNES = '[^\\n]*';

/** Reads one character of a [...] class at `index` (Go's getEsc); returns the index after it or throws. */
function skipClassChar(chars: string[], index: number, pattern: string): number {
  let at = index;
  if (at >= chars.length || chars[at] === '-' || chars[at] === ']') throw new Error(`${SYNTAX_ERROR} "${pattern}"`);
  if (chars[at] === '\\') at += 1;
  at += 1;
  if (at >= chars.length) throw new Error(`${SYNTAX_ERROR} "${pattern}"`);
  return at;
}

/** Skips a [...] class starting after its '['; throws on the shapes filepath.Match rejects. */
function skipClass(chars: string[], index: number, pattern: string): number {
  let at = chars[index] === '^' ? index + 1 : index;
  for (let ranges = 0; ; ranges += 1) {
    if (at < chars.length && chars[at] === ']' && ranges > 0) return at + 1;
    at = skipClassChar(chars, at, pattern);
    if (chars[at] === '-') at = skipClassChar(chars, at + 1, pattern);
  }
}

/** The syntax check patternmatcher.New does with filepath.Match(pattern, "."). */
function checkGlobSyntax(pattern: string): void {
  const chars = Array.from(pattern);
  for (let at = 0; at < chars.length; ) {
    if (chars[at] === '\\') {
      if (at + 1 >= chars.length) throw new Error(`${SYNTAX_ERROR} "${pattern}"`);
      at += 2;
    } else if (chars[at] === '[') {
      at = skipClass(chars, at + 1, pattern);
    } else {
      at += 1;
    }
  }
}

interface CompiledGlob {
  kind: MatchKind;
  source: string;
}

/** Translates a pattern the way patternmatcher's compile() does, including its exact/prefix/suffix shortcuts. */
function compileGlob(text: string): CompiledGlob {
  const chars = Array.from(text);
  let source = '^';
  let kind: MatchKind = 'exact';
  let inClass = false;
  for (let step = 0, at = 0; at < chars.length; step += 1) {
    const ch = chars[at++];
    if (ch === '*' && chars[at] === '*') {
      at += 1;
      if (chars[at] === '/') at += 1;
      if (at >= chars.length) {
        if (kind === 'exact') kind = 'prefix';
        else {
          source += ANY_RUNES;
          kind = 'regexp';
        }
      } else {
        source += `(${ANY_RUNES}/)?`;
        kind = 'regexp';
      }
      if (step === 0) kind = 'suffix';
    } else if (ch === '*') {
      source += '[^/]*';
      kind = 'regexp';
    } else if (ch === '?') {
      source += inClass ? '[^/]' : ANY_RUNE_BUT_SLASH;
      kind = 'regexp';
    } else if (REGEXP_ONLY_CHARS.has(ch)) {
      source += `\\${ch}`;
    } else if (ch === '\\') {
      if (at >= chars.length) throw new Error(`${SYNTAX_ERROR} "${text}"`);
      source += `\\${chars[at++]}`;
      kind = 'regexp';
    } else if (ch === '[' || ch === ']') {
      inClass = ch === '[';
      source += ch;
      kind = 'regexp';
    } else {
      source += ch;
    }
  }
  return { kind, source: `${source}$` };
}

function compilePattern(raw: string): IgnorePattern {
  let text = goClean(goTrimSpace(raw));
  const exclusion = text.startsWith('!');
  if (exclusion) {
    if (text.length === 1) throw new Error('illegal exclusion pattern: "!"');
    text = text.slice(1);
  }
  checkGlobSyntax(text);
  const glob = compileGlob(text);
  let regexp: RegExp | null = null;
  let invalid = false;
  if (glob.kind === 'regexp') {
    try {
      regexp = new RegExp(glob.source);
    } catch {
      invalid = true;
    }
  }
  return { text, exclusion, kind: glob.kind, regexp, invalid };
}

function patternMatches(pattern: IgnorePattern, file: string): boolean {
  switch (pattern.kind) {
    case 'exact':
      return file === pattern.text;
    case 'prefix':
      return file.startsWith(pattern.text.slice(0, -2));
    case 'suffix': {
      const suffix = pattern.text.slice(2);
      return file.endsWith(suffix) || (suffix.startsWith('/') && file === suffix.slice(1));
    }
    case 'regexp':
      if (pattern.invalid || pattern.regexp === null) throw new Error(`${SYNTAX_ERROR} "${pattern.text}"`);
      return pattern.regexp.test(file);
  }
}

/** True when the pattern matches one of the ancestors of `file` (the check for a zero ParentMatches). */
function matchesAncestor(pattern: IgnorePattern, file: string): boolean {
  const parent = path.posix.dirname(file);
  if (parent === '.') return false;
  const dirs = parent.split('/');
  for (let depth = 1; depth <= dirs.length; depth += 1) {
    if (patternMatches(pattern, dirs.slice(0, depth).join('/'))) return true;
  }
  return false;
}

export interface MatchResult {
  excluded: boolean;
  /** Results to hand to the children of this path when it is a directory. */
  parents: ParentMatches;
}

/** .dockerignore patterns compiled once; paths are '/'-separated and relative to the context root. */
export class IgnoreMatcher {
  private readonly patterns: readonly IgnorePattern[];
  /** True when some pattern is an exception ('!...'). */
  readonly hasExclusions: boolean;

  /** Throws, like the CLI, on a bad pattern ("syntax error in pattern", or a lone '!'). */
  constructor(patterns: readonly string[]) {
    this.patterns = patterns.filter((raw) => goTrimSpace(raw) !== '').map(compilePattern);
    this.hasExclusions = this.patterns.some((pattern) => pattern.exclusion);
  }

  /** patternmatcher.MatchesUsingParentResults: what archive.TarWithOptions asks for each walked path. */
  matchWithParents(file: string, parents: ParentMatches): MatchResult {
    const known = parents !== null && parents.length > 0 ? parents : null;
    const results = new Array<boolean>(this.patterns.length).fill(false);
    let excluded = false;
    this.patterns.forEach((pattern, index) => {
      let match = known !== null && known[index];
      if (!match) {
        if (pattern.exclusion !== excluded) return;
        match = patternMatches(pattern, file) || (known === null && matchesAncestor(pattern, file));
      }
      results[index] = match;
      if (match) excluded = !pattern.exclusion;
    });
    return { excluded, parents: results };
  }

  /** patternmatcher.MatchesOrParentMatches: is `file` excluded, by itself or through any ancestor. */
  ignores(file: string): boolean {
    const cleaned = goClean(file);
    if (cleaned === '.') return false;
    return this.matchWithParents(cleaned, null).excluded;
  }

  /** The CLI's rule for walking into an excluded directory: some exception pattern starts with `dir/`. */
  mayReincludeBelow(dir: string): boolean {
    if (!this.hasExclusions) return false;
    const dirSlash = `${dir}/`;
    return this.patterns.some((pattern) => pattern.exclusion && `${pattern.text}/`.startsWith(dirSlash));
  }
}
