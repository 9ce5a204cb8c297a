// Maps a line:column of the JavaScript a cell ran as back to the TypeScript the user typed, for tracebacks.
// Two layers shift columns (lines never move): sucrase's type stripping (its token-level source map) and the
// cell rewrite's edits (declarations to assignments, the async wrapper's `return { value: (`). The map is
// computed only when an error needs it, never on the path of a cell that succeeds.
import { decode, SourceMapMappings } from '@jridgewell/sourcemap-codec';
import { transform } from 'sucrase';

/** What the rewrite did to the transpiled JavaScript: enough to undo it. */
export interface CellEdits {
  /** The TypeScript the user typed. */
  source: string;
  /** sucrase's output, before the rewrite's edits. */
  js: string;
  /** The rewrite's edits on `js`, in ascending order, none overlapping. */
  edits: ReadonlyArray<{ start: number; end: number; text: string }>;
}

interface Mapper {
  /** Offsets where each line of the rewritten code starts. */
  outLineStarts: number[];
  jsLineStarts: number[];
  /** Unchanged stretches: rewritten offset `out` corresponds to JavaScript offset `js`, for `length` characters. */
  spans: Array<{ out: number; js: number; length: number }>;
  /** Where inserted or replacing text starts in the rewritten code, and the JavaScript offset it stands for. */
  inserted: Array<{ out: number; end: number; js: number }>;
  sucrase: SourceMapMappings;
}

const mappers = new WeakMap<CellEdits, Mapper>();

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return starts;
}

function mapperFor(cell: CellEdits): Mapper {
  const known = mappers.get(cell);
  if (known) return known;
  const spans: Mapper['spans'] = [];
  const inserted: Mapper['inserted'] = [];
  let out = '';
  let js = 0;
  for (const e of cell.edits) {
    spans.push({ out: out.length, js, length: e.start - js });
    out += cell.js.slice(js, e.start);
    inserted.push({ out: out.length, end: out.length + e.text.length, js: e.start });
    out += e.text;
    js = e.end;
  }
  spans.push({ out: out.length, js, length: cell.js.length - js });
  out += cell.js.slice(js);
  const map = transform(cell.source, {
    transforms: ['typescript'],
    keepUnusedImports: true,
    disableESTransforms: true,
    filePath: 'cell.ts',
    sourceMapOptions: { compiledFilename: 'cell.js' },
  }).sourceMap;
  const mapper = { outLineStarts: lineStarts(out), jsLineStarts: lineStarts(cell.js), spans, inserted, sucrase: map ? decode(map.mappings) : [] };
  mappers.set(cell, mapper);
  return mapper;
}

/** The JavaScript offset a rewritten-code offset stands for (inserted text stands for where it was inserted). */
function jsOffset(m: Mapper, out: number): number {
  for (const i of m.inserted) if (out >= i.out && out < i.end) return i.js;
  let span = m.spans[0];
  for (const s of m.spans) if (s.out <= out) span = s;
  return span.js + Math.min(out - span.out, span.length);
}

/** sucrase keeps lines: only the column moves, to the source column of the token the position falls in. */
function sourceColumn(m: Mapper, line0: number, column0: number): number {
  const segments = m.sucrase[line0] ?? [];
  let best: number[] | undefined;
  for (const seg of segments) if (seg[0] <= column0) best = seg;
  if (!best || best.length < 4) return column0;
  return (best[3] as number) + (column0 - best[0]);
}

/**
 * The TypeScript position (1-based line and column) of a 1-based line:column in the code the cell ran as, as
 * V8 reports it (vm's columnOffset has already removed the async wrapper's prefix on line 1).
 */
export function originalPosition(cell: CellEdits, line: number, column: number): { line: number; column: number } {
  try {
    const m = mapperFor(cell);
    const lineStart = m.outLineStarts[line - 1];
    if (lineStart === undefined) return { line, column };
    const js = jsOffset(m, lineStart + column - 1);
    let jsLine = 0;
    while (jsLine + 1 < m.jsLineStarts.length && m.jsLineStarts[jsLine + 1] <= js) jsLine++;
    return { line: jsLine + 1, column: sourceColumn(m, jsLine, js - m.jsLineStarts[jsLine]) + 1 };
  } catch {
    return { line, column }; // a position we cannot map is shown as it is
  }
}
