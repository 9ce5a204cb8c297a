// Why sucrase strips the types of cells: the three transpilers issue 3 names, measured the way a kernel uses
// them. Each runs in a fresh Node process (so loading it is measured cold): the time to load the module, the
// first transform of the 200-line benchmark cell, and the p50 of 20 new cells after that.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Summary, summarize } from './stats';

export const TRANSPILERS = ['sucrase', 'esbuild', 'typescript'] as const;
export type Transpiler = (typeof TRANSPILERS)[number];

export interface TranspilerResult {
  name: Transpiler;
  version: string;
  loadMs: number;
  firstMs: number;
  cell: Summary;
  /** Whether the output keeps the cell's lines (a traceback's line is then the cell's, without a source map). */
  sameLines: boolean;
}

/** Runs in the child process: `node transpilers.js <name>` prints one JSON line. */
function measureHere(name: Transpiler): void {
  const { performance } = require('node:perf_hooks') as typeof import('node:perf_hooks');
  const t0 = performance.now();
  let transform: (code: string) => string;
  let version: string;
  if (name === 'sucrase') {
    const sucrase = require('sucrase') as typeof import('sucrase');
    transform = (code) => sucrase.transform(code, { transforms: ['typescript'], keepUnusedImports: true, disableESTransforms: true }).code;
    version = (require('sucrase/package.json') as { version: string }).version;
  } else if (name === 'esbuild') {
    const esbuild = require('esbuild') as typeof import('esbuild');
    transform = (code) => esbuild.transformSync(code, { loader: 'ts', format: 'esm', target: 'esnext' }).code;
    version = esbuild.version;
  } else {
    const ts = require('typescript') as typeof import('typescript');
    transform = (code) => ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ESNext, module: ts.ModuleKind.ESNext, verbatimModuleSyntax: false } }).outputText;
    version = ts.version;
  }
  const loadMs = performance.now() - t0;
  // loaded after the timing above: it brings the kernel's own rewrite (sucrase, acorn) with it
  const { typescriptCell } = require('./typescript-cell') as typeof import('./typescript-cell');
  const f0 = performance.now();
  transform(typescriptCell(-1));
  const firstMs = performance.now() - f0;
  const samples: number[] = [];
  for (let i = 0; i < 20; i++) {
    const s = performance.now();
    transform(typescriptCell(i));
    samples.push(performance.now() - s);
  }
  // blank lines, a comment and a type-only line before the statement an error would point at
  const probe = transform('const a: number = 1;\n\n// note\ninterface I { x: number }\n\nthrowsHere(a);\n').split('\n');
  const sameLines = probe.findIndex((line) => line.includes('throwsHere')) === 5;
  process.stdout.write(`${JSON.stringify({ name, version, loadMs, firstMs, cell: summarize(samples), sameLines })}\n`);
}

export function measureTranspilers(): TranspilerResult[] {
  return TRANSPILERS.map((name) => {
    const r = spawnSync(process.execPath, [path.join(__dirname, 'transpilers.js'), name], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${name}: ${r.stderr || r.error?.message}`);
    return JSON.parse(r.stdout.trim().split('\n').pop() as string) as TranspilerResult;
  });
}

if (require.main === module) measureHere(process.argv[2] as Transpiler);
