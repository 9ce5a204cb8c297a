// Go's string cleaning that moby applies to .dockerignore lines (ignorefile.ReadAll) and again to patterns
// (patternmatcher.New): strings.TrimSpace and path.Clean, whose edge cases differ from JavaScript's trim and
// path.posix.normalize.
import * as path from 'node:path';

/** Go's unicode.IsSpace set, which strings.TrimSpace strips (String.prototype.trim differs, e.g. on U+FEFF, U+0085). */
const GO_SPACE_EDGES = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

export function goTrimSpace(text: string): string {
  return text.replace(GO_SPACE_EDGES, '');
}

/** Go's path.Clean for '/'-separated paths. */
export function goClean(text: string): string {
  if (text === '') return '.';
  const normalized = path.posix.normalize(text);
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized;
}
