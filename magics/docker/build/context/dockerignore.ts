// Reading .dockerignore as the docker CLI does (moby ignorefile.ReadAll): a BOM dropped, '#' comments only in the
// first column, blank lines skipped, each line trimmed and cleaned, a leading '/' dropped, '!' exceptions kept.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { errorCode, errorMessage } from './errors';
import { goClean, goTrimSpace } from './go-strings';

/** The file name, at the context root. */
export const DOCKERIGNORE = '.dockerignore';

/** One .dockerignore line to its pattern, or null for a blank line: trimmed, cleaned, leading '/' dropped, '!' kept. */
function patternFromLine(line: string): string | null {
  let pattern = goTrimSpace(line);
  if (pattern === '') return null;
  const exception = pattern.startsWith('!');
  if (exception) pattern = goTrimSpace(pattern.slice(1));
  if (pattern.length > 0) {
    pattern = goClean(pattern);
    if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
  }
  return exception ? `!${pattern}` : pattern;
}

/**
 * Patterns of a .dockerignore text as the CLI reads them: a UTF-8 BOM is dropped, a line is a comment only when its
 * very first character is '#' (no trimming first), blank lines are skipped, '\r\n' endings are accepted.
 */
export function parseDockerignore(content: string | Buffer): string[] {
  const text = typeof content === 'string' ? content : content.toString('utf8');
  const patterns: string[] = [];
  text.split('\n').forEach((rawLine, index) => {
    let line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (index === 0 && line.startsWith('\ufeff')) line = line.slice(1);
    if (line.startsWith('#')) return;
    const pattern = patternFromLine(line);
    if (pattern !== null) patterns.push(pattern);
  });
  return patterns;
}

/** The patterns of `<contextDir>/.dockerignore` ([] when there is none), comments and blank lines removed. */
export async function readDockerignore(contextDir: string): Promise<string[]> {
  const file = path.join(contextDir, DOCKERIGNORE);
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return [];
    throw new Error(`error reading ${file}: ${errorMessage(error)}`);
  }
  return parseDockerignore(content);
}
