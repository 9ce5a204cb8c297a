// The layering the folders promise, checked on the imports of every product file, so a shortcut cannot creep back:
// - kernel/ reaches magics/ only through the one composition root that registers them;
// - magics/ reaches kernel/ only through kernel/io/ (the Io, the error classes, HTML escaping);
// - kernel/runner/ (opsbook run, a client) imports the wire from kernel/protocol/ and never the server's files;
// - no magic file imports another magic file: magics stand on the libraries beneath them;
// - no import cycles among product files;
// - every product file starts with a comment saying its role.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const PRODUCT_FOLDERS = ['kernel', 'magics', 'notebooks/stack'];
const MAGICS_ROOT = 'kernel/executor/cell-thread/magics.ts';

function tsFiles(folder: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
    }
  };
  try {
    walk(folder);
  } catch {
    // a folder that does not exist holds no files
  }
  return out;
}

/** The repository-relative .ts files a file imports (relative imports only; packages and node: builtins left out). */
function localImports(file: string): string[] {
  const source = readFileSync(path.join(ROOT, file), 'utf8');
  const specs = [...source.matchAll(/(?:from|import|require\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1]);
  return specs.map((spec) => {
    const base = path.normalize(path.join(path.dirname(file), spec));
    for (const candidate of [`${base}.ts`, path.join(base, 'index.ts'), base]) if (files.includes(candidate)) return candidate;
    return `${base}.ts`;
  });
}

const files = PRODUCT_FOLDERS.flatMap(tsFiles);
const imports = new Map(files.map((f) => [f, localImports(f)]));
const isMagicFile = (f: string) => f.startsWith('magics/') && /export function \w+Magic\s*\(/.test(readFileSync(path.join(ROOT, f), 'utf8'));

function violations(from: (f: string) => boolean, bad: (target: string) => boolean): string[] {
  return files.filter(from).flatMap((f) => (imports.get(f) ?? []).filter(bad).map((t) => `${f} → ${t}`));
}

test('the product has files to check (the walk found the folders)', () => {
  expect(files.filter((f) => f.startsWith('kernel/')).length).toBeGreaterThan(20);
  expect(files.filter((f) => f.startsWith('magics/')).length).toBeGreaterThan(20);
  expect(files.filter(isMagicFile).length).toBeGreaterThan(8);
});

test('kernel/ imports magics/ only in the composition root that registers them', () => {
  expect(violations((f) => f.startsWith('kernel/') && f !== MAGICS_ROOT, (t) => t.startsWith('magics/'))).toEqual([]);
});

test('magics/ imports nothing from kernel/ but kernel/io/', () => {
  expect(violations((f) => f.startsWith('magics/'), (t) => t.startsWith('kernel/') && !t.startsWith('kernel/io/'))).toEqual([]);
});

test('opsbook run (kernel/runner/) imports only kernel/protocol/ and its own files', () => {
  expect(violations((f) => f.startsWith('kernel/runner/'), (t) => !t.startsWith('kernel/runner/') && !t.startsWith('kernel/protocol/'))).toEqual([]);
});

test('kernel/protocol/ and kernel/io/ stand alone: they import no other kernel/ or magics/ file', () => {
  expect(violations((f) => f.startsWith('kernel/protocol/'), (t) => !t.startsWith('kernel/protocol/'))).toEqual([]);
  expect(violations((f) => f.startsWith('kernel/io/'), (t) => !t.startsWith('kernel/io/') && !t.startsWith('kernel/protocol/'))).toEqual([]);
});

test('no magic file imports another magic file', () => {
  const magicFiles = new Set(files.filter(isMagicFile));
  expect(violations((f) => magicFiles.has(f), (t) => magicFiles.has(t))).toEqual([]);
});

test('no import cycles among product files', () => {
  const cycles: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (f: string, trail: string[]) => {
    if (state.get(f) === 'done') return;
    if (state.get(f) === 'visiting') {
      cycles.push([...trail.slice(trail.indexOf(f)), f].join(' → '));
      return;
    }
    state.set(f, 'visiting');
    for (const t of imports.get(f) ?? []) if (imports.has(t)) visit(t, [...trail, f]);
    state.set(f, 'done');
  };
  for (const f of files) visit(f, []);
  expect(cycles).toEqual([]);
});

test('every product file starts with a comment saying its role', () => {
  const bare = files.filter((f) => !/^(#!.*\n)?\/\/ \S/.test(readFileSync(path.join(ROOT, f), 'utf8')));
  expect(bare).toEqual([]);
});
