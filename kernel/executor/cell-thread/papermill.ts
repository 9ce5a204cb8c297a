// papermill's injected parameters, read as TypeScript values. papermill has no TypeScript translator; run with
// `-l python` it injects a cell of Python literals: a `# Parameters` comment, then `name = value` lines with
// strings (double-quoted, unicode_escape'd), numbers, True/False/None, float('nan') / float('inf'), lists and
// dicts, and when black imports it formats that cell with black (values over lines, trailing commas,
// parenthesised strings; see python-literals.ts). Such a cell (and nothing else) becomes `const name = <value>;`.
import { LiteralValue, readLiteralAssignments } from './python-literals';

/** A value as TypeScript source (JSON, plus the numbers JSON has no spelling for, and `__proto__` as an own key). */
function source(value: LiteralValue): string {
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
    return Object.is(value, -0) ? '-0' : JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(source).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    // `"__proto__": v` in an object literal sets the prototype; the computed form defines an own property
    const key = (k: string) => (k === '__proto__' ? '["__proto__"]' : JSON.stringify(k));
    return `{${Object.entries(value).map(([k, v]) => `${key(k)}: ${source(v)}`).join(', ')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The TypeScript for a cell that is exactly papermill's injected Python parameters, or undefined for any other
 * cell. Line for line, so errors keep their line numbers: each `const` stands on its assignment's first line, the
 * lines a value was spread over by black stay empty, comment lines stay comments.
 */
export function papermillParameters(cell: string): string | undefined {
  const lines = cell.replace(/\r\n?/g, '\n').split('\n');
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0 || lines[first].trim() !== '# Parameters') return undefined;
  let assignments;
  try {
    assignments = readLiteralAssignments(lines.join('\n'));
  } catch {
    return undefined;
  }
  const out = lines.map((line) => (line.trim().startsWith('#') ? `//${line.trim().slice(1)}` : line.trim() === '' ? line : ''));
  out[first] = '// Parameters (injected by papermill, read as TypeScript values)';
  for (const { name, value, line } of assignments) out[line] = `const ${name} = ${source(value)};`;
  return out.join('\n');
}
