// Unit tests of completion (identifiers, module names, file paths, code-point cursors, magics, big objects) and inspection (signatures, exotic values).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import * as vm from 'node:vm';
import { complete } from '../../kernel/executor/cell-thread/complete';
import { inspectAt } from '../../kernel/executor/cell-thread/inspect';
import { kernelNodeModules, CompleteOptions } from '../../kernel/executor/cell-thread/module-names';
import { rewriteCell } from '../../kernel/executor/cell-thread/cell-rewrite';

const points = (s: string): number => [...s].length;

/** Completes at the end of `code` (or at the `|` in it, which is removed). */
function at(global: object, code: string, options: CompleteOptions = {}, magics?: (prefix: string) => string[]) {
  const bar = code.indexOf('|');
  const text = bar < 0 ? code : code.slice(0, bar) + code.slice(bar + 1);
  const cursor = points(bar < 0 ? code : code.slice(0, bar));
  return { cursor, ...complete(global, text, cursor, magics, options) };
}

let tmp: string;
let notebook: string;
let ownModules: string;
let home: string;
const opts = (): CompleteOptions => ({ cwd: notebook, kernelModules: ownModules, home });

beforeAll(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'opsbook-introspect-'));
  // tmp/node_modules: a plain package with a lib/ folder, a scoped scope with two packages, npm's .bin.
  for (const dir of ['node_modules/leftpad/lib', 'node_modules/@acme/widgets', 'node_modules/@acme/gadgets', 'node_modules/.bin', 'node_modules/@other/thing', 'own/node_modules/ownpkg', 'home/projects', 'nb/alps', 'nb/data-dir']) {
    mkdirSync(path.join(tmp, dir), { recursive: true });
  }
  writeFileSync(path.join(tmp, 'node_modules/leftpad/index.js'), 'module.exports = 1');
  writeFileSync(path.join(tmp, 'node_modules/leftpad/lib/pad.js'), 'module.exports = 1');
  notebook = path.join(tmp, 'nb');
  for (const f of ['alpha.txt', '.hidden', 'emoji-😀.md', 'data.csv']) writeFileSync(path.join(notebook, f), '');
  ownModules = path.join(tmp, 'own', 'node_modules');
  home = path.join(tmp, 'home');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('complete: identifiers', () => {
  const g = { obj: { alpha: 1, alps: 2, beta: 3, 'al-x': 4 }, ñandú: 1, alphabet: 'abc' };

  test('properties of a live object, token replaced in code points', () => {
    const r = at(g, 'obj.al');
    expect(r.matches).toEqual(['alpha', 'alps']);
    expect([r.cursor_start, r.cursor_end]).toEqual([r.cursor - 2, r.cursor]);
    expect(r.status).toBe('ok');
  });

  test('Unicode: emoji before the cursor, a non-ASCII identifier', () => {
    const r = at(g, 'const s = "😀🎉"; ña');
    expect(r.cursor).toBe(points('const s = "😀🎉"; ña'));
    expect(r.matches).toEqual(['ñandú']);
    expect(r.cursor_start).toBe(r.cursor - 2);
  });

  test('cursor inside a word: the whole word is the token', () => {
    const r = at(g, '"🎉"; obj.al|ph + 1');
    expect(r.matches).toEqual(['alpha', 'alps']);
    expect([r.cursor_start, r.cursor_end]).toEqual([r.cursor - 2, r.cursor + 2]);
  });

  test('globals, keywords and names the cell declares', () => {
    expect(at(g, 'alph').matches).toEqual(['alphabet']);
    expect(at({}, 'const myLongName = 1, x = 2;\nmyLo').matches).toEqual(['myLongName']);
    expect(at({}, 'import { readFile as rf, writeFile } from "fs";\nr').matches).toContain('rf');
    expect(at({}, 'ret').matches).toEqual(['return']);
    expect(at({}, 'const foo = 1; const fo').matches).toEqual(['foo', 'for']); // the name being typed is not its own completion
  });

  test('chains: optional chaining, spread, string literals, unknown bases', () => {
    expect(at(g, 'obj?.be').matches).toEqual(['beta']);
    expect(at(g, '[...ob').matches).toEqual(['obj']);
    expect(at(g, '"abc".toUpp').matches).toEqual(['toUpperCase']);
    expect(at(g, 'f().al').matches).toEqual([]);
    expect(at(g, 'nothingHere.al').matches).toEqual([]);
    expect(at(g, 'x = 12').matches).toEqual([]);
  });

  test('property keys inside obj["…', () => {
    const r = at(g, 'obj["al');
    expect(r.matches).toEqual(['al-x', 'alpha', 'alps']);
    expect(r.cursor_start).toBe(r.cursor - 2);
  });

  test('nothing inside comments and plain strings', () => {
    expect(at(g, '// obj.al').matches).toEqual([]);
    expect(at(g, '/* obj.al').matches).toEqual([]);
    expect(at(g, 'const s = "obj.al').matches).toEqual([]);
    expect(at(g, 'const s = `${obj.al').matches).toEqual(['alpha', 'alps']); // code inside a substitution
    expect(at(g, 'const r = /"/; obj.al').matches).toEqual(['alpha', 'alps']); // a quote in a regex literal
  });

  test('the magic hook still answers after a % at line start', () => {
    const magics = (prefix: string) => ['echo', 'env', 'time'].filter((n) => n.startsWith(prefix));
    const r = at(g, 'const ü = 1\n  %ec', {}, magics);
    expect(r.matches).toEqual(['%echo']);
    expect(r.cursor_start).toBe(r.cursor - 3);
    expect(at(g, '%%ti', {}, magics).matches).toEqual(['%%time']);
    expect(at(g, 'x % al', {}, magics).matches).toEqual(['alphabet']);
  });

  test('out-of-range cursors are clamped', () => {
    expect(complete(g, 'obj.al', 1e308).cursor_end).toBe(6);
    expect(complete(g, 'obj.al', -5).cursor_start).toBe(0);
    expect(complete(g, '\ud83d\ude00.', 1).status).toBe('ok');
  });

  // how long this takes is the bench's business (no timed unit tests): here, only that every match is right
  test('an object with 10,000 properties: correct matches', () => {
    const big = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`p${i}`, i]));
    const global = { big };
    const all = complete(global, 'big.', 4);
    // the own members, then Object.prototype's without its legacy accessors (__proto__, __defineGetter__...)
    const objectMembers = Object.getOwnPropertyNames(Object.prototype).filter((n) => /^[A-Za-z$][\w$]*$/.test(n));
    expect(all.matches.length).toBe(10_000 + objectMembers.length);
    expect(all.matches).toContain('p9999');
    expect(all.matches.slice(10_000)).toEqual(['constructor', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString', 'toString', 'valueOf']);
    const some = complete(global, 'big.p12', 7);
    expect(some.matches.length).toBe(111); // p12, p120..p129, p1200..p1299
    expect(some.matches.slice(0, 3)).toEqual(['p12', 'p120', 'p1200']);
    expect(some.cursor_start).toBe(4);
  });
});

describe('complete: module names', () => {
  test('Node builtins after import … from " and import "', () => {
    const r = at({}, 'import x from "f');
    expect(r.matches).toEqual(expect.arrayContaining(['fs', 'fs/promises']));
    expect(r.matches).not.toContain('node:fs');
    expect(r.cursor_start).toBe(r.cursor - 1);
    expect(at({}, "import 'chi").matches).toEqual(['child_process']);
    expect(at({}, 'import * as p from "node:pa').matches).toEqual(['node:path', 'node:path/posix', 'node:path/win32']);
    expect(at({}, 'import type { X } from "ut').matches).toContain('util');
  });

  test("Node builtins after require(\" and require('", () => {
    expect(at({}, 'const cp = require("chi').matches).toEqual(['child_process']);
    expect(at({}, "const cp = require('chi").matches).toEqual(['child_process']);
    expect(at({}, 'await import("node:chi').matches).toEqual(['node:child_process']);
    expect(at({}, 'require("_http').matches).toContain('_http_agent'); // internal aliases only when asked for
    expect(at({}, 'require("').matches).not.toContain('_http_agent');
    expect(at({}, 'require("node:te').matches).toContain('node:test'); // exists only with the scheme
  });

  test('packages of node_modules in the notebook folder and its parents, scoped ones included', () => {
    const o = opts();
    expect(at({}, 'import pad from "left', o).matches).toEqual(['leftpad']);
    expect(at({}, 'require("@ac', o).matches).toEqual(['@acme/gadgets', '@acme/widgets']);
    const scoped = at({}, 'require("@acme/w', o);
    expect(scoped.matches).toEqual(['@acme/widgets']);
    expect(scoped.cursor_start).toBe(scoped.cursor - points('@acme/w'));
    const all = at({}, 'require("', o).matches;
    expect(all).toEqual(expect.arrayContaining(['leftpad', '@acme/widgets', '@other/thing', 'ownpkg', 'fs', 'node:fs']));
    expect(all.some((m) => m.startsWith('.'))).toBe(false);
    expect(new Set(all).size).toBe(all.length);
  });

  test('paths inside a package, and the rest of the specifier is replaced', () => {
    expect(at({}, 'require("leftpad/li', opts()).matches).toEqual(['leftpad/lib/']);
    expect(at({}, 'require("leftpad/lib/', opts()).matches).toEqual(['leftpad/lib/pad.js']);
    const r = at({}, 'require("lef|tpa")', opts());
    expect(r.matches).toEqual(['leftpad']);
    expect([r.cursor_start, r.cursor_end]).toEqual([r.cursor - 3, r.cursor + 3]);
  });

  test("opsbook's own node_modules is found from the kernel's package.json", () => {
    const own = kernelNodeModules();
    expect(own).toBe(path.resolve(__dirname, '..', '..', 'node_modules'));
    expect(at({}, 'require("sucr', { cwd: notebook }).matches).toEqual(['sucrase']);
  });

  test('relative module paths complete as files', () => {
    expect(at({}, 'import a from "./al', opts()).matches).toEqual(['alpha.txt', 'alps/']);
  });
});

describe('complete: file paths in strings', () => {
  test('./ lists the notebook folder, directories end in /, the last segment is the token', () => {
    const r = at({}, 'readFileSync("./al', opts());
    expect(r.matches).toEqual(['alpha.txt', 'alps/']);
    expect(r.cursor_start).toBe(r.cursor - 2);
    expect(at({}, 'readFileSync("./', opts()).matches).toEqual(['alpha.txt', 'alps/', 'data-dir/', 'data.csv', 'emoji-😀.md']);
    expect(at({}, "open('./.h", opts()).matches).toEqual(['.hidden']);
  });

  test('absolute, ../ and ~/ paths; template literals', () => {
    expect(at({}, `fs.statSync("${notebook}/da`, opts()).matches).toEqual(['data-dir/', 'data.csv']);
    expect(at({}, 'x = "../nb/alp', opts()).matches).toEqual(['alpha.txt', 'alps/']);
    expect(at({}, 'x = "~/pro', opts()).matches).toEqual(['projects/']);
    expect(at({}, 'x = `./data', opts()).matches).toEqual(['data-dir/', 'data.csv']);
    expect(at({}, 'x = `${dir}/data', opts()).matches).toEqual([]); // after a substitution the folder is unknown
  });

  test('code points: an emoji file name and emoji before the cursor', () => {
    const r = at({}, 'const s = "🎉"; read("./emoji-😀', opts());
    expect(r.matches).toEqual(['emoji-😀.md']);
    expect(r.cursor_start).toBe(r.cursor - points('emoji-😀'));
    const mid = at({}, 'read("./da|ta.csv")', opts());
    expect(mid.matches).toEqual(['data-dir/', 'data.csv']);
    expect(mid.cursor_end).toBe(mid.cursor + points('ta.csv'));
  });

  test('strings that do not look like paths, and missing folders, give nothing', () => {
    expect(at({}, 'x = "al', opts()).matches).toEqual([]);
    expect(at({}, 'x = "./no/such/dir/a', opts()).matches).toEqual([]);
  });
});

// ---- inspection ---------------------------------------------------------------------------------------------

function text(global: object, code: string, detailLevel = 0): string {
  const bar = code.indexOf('|');
  const src = bar < 0 ? code : code.slice(0, bar) + code.slice(bar + 1);
  const r = inspectAt(global, src, points(bar < 0 ? code : code.slice(0, bar)), detailLevel);
  expect(r.status).toBe('ok');
  return r.found ? r.data['text/plain'] : '(not found)';
}

/** Runs TypeScript cells the way the kernel does (rewriteCell + vm) and returns the global object they ran in. */
async function cells(...sources: string[]): Promise<object> {
  const context = vm.createContext({});
  for (const code of sources) {
    const cell = rewriteCell(code);
    await (new vm.Script(cell.code, { columnOffset: -cell.prefixLength }).runInContext(context) as Promise<unknown>);
  }
  return vm.runInContext('globalThis', context) as object;
}

describe('inspect: signatures', () => {
  let ctx: object;
  beforeAll(async () => {
    ctx = await cells(
      `/** Greets someone.
 * @param name who
 */
function greet(name: string, punct: string = "!"): string { return \`hi \${name}\${punct}\`; }
const double = (n: number): number => n * 2;
const inc = v => v + 1;
const fetchAll = async (url: string, { retries = 3, timeout }: { retries?: number; timeout?: number } = {}) => url;
async function load(id: number, ...rest: string[]) { return id; }
function* count(from = 0, to = Infinity) { yield from; }
function tricky(a = ")", b = (1, 2), c = { d: [1, 2] }, e = \`\${"("}\`) {}
class Point<T> {
  static origin = new Point(0, 0);
  label = "p";
  /** Moves it. */
  move(dx: number) { return dx; }
  constructor(public x: number, y: number = 0) {}
}
class Point3 extends Point<number> { z = 0; }
class Empty {}
class FromError extends Error {}
const box = { method(a: number, b?: string) { return a; }, async fetch(u) { return u; } };`,
    );
  });

  test.each([
    ['greet', 'Signature: greet(name, punct = "!")', 'function'],
    ['double', 'Signature: double(n)', 'arrow function'],
    ['inc', 'Signature: inc(v)', 'arrow function'],
    ['fetchAll', 'Signature: async fetchAll(url, { retries = 3, timeout } = {})', 'async arrow function'],
    ['load', 'Signature: async load(id, ...rest)', 'async function'],
    ['count', 'Signature: count(from = 0, to = Infinity)', 'generator function'],
    ['tricky', 'Signature: tricky(a = ")", b = (1, 2), c = { d: [1, 2] }, e = `${"("}`)', 'function'],
    ['Point', 'Signature: new Point(x, y = 0)', 'class'],
    ['Point3', 'Signature: new Point3(x, y = 0)', 'class'],
    ['Empty', 'Signature: new Empty()', 'class'],
    ['FromError', 'Signature: new FromError(…)', 'class'],
    ['box.method', 'Signature: method(a, b)', 'method'],
    ['box.fetch', 'Signature: async fetch(u)', 'async method'],
    ['Math.max', 'Signature: max(…)', 'native function'],
  ])('%s', (expr, signature, kind) => {
    const t = text(ctx, expr);
    expect(t).toContain(signature);
    expect(t.split('\n')[0]).toBe(`${expr}: ${kind}`);
  });

  test('JSDoc from the code sent with the request; source at detail_level 1', () => {
    const code = '/** Greets someone.\n * @param name who\n */\nfunction greet(name: string) {}\ngre|et("x")';
    const t = text(ctx, code);
    expect(t).toContain('Docstring:\nGreets someone.\n@param name who');
    expect(t).not.toContain('return `hi');
    expect(text(ctx, code, 1)).toContain('Source:\nfunction greet(name, punct = "!") { return `hi ${name}${punct}`; }');
    expect(text(ctx, 'greet')).not.toContain('Docstring');
  });

  test('JSDoc from the newest earlier cell that documents the name, when the request has none', () => {
    const earlier = () => ['/** Old words. */\nfunction greet(name) {}', 'greet("x")', '/** Greets, newest. */\nfunction greet(name) {}'].reverse();
    const r = inspectAt(ctx, 'greet', 5, 0, earlier);
    expect(r.found && r.data['text/plain']).toContain('Docstring:\nGreets, newest.');
    const own = inspectAt(ctx, '/** Mine. */\nfunction greet(n) {}\ngreet', 40, 0, earlier);
    expect(own.found && own.data['text/plain']).toContain('Docstring:\nMine.');
  });

  test('the function whose call the cursor is in', () => {
    expect(text(ctx, 'greet(|')).toContain('Signature: greet(name, punct = "!")');
    expect(text(ctx, 'Math.max(1, |')).toContain('Signature: max(…)');
    expect(text(ctx, 'new Point(1, undefinedThing|')).toContain('Signature: new Point(x, y = 0)');
  });

  test('values: type and summary', () => {
    const t = text(ctx, 'Point.origin');
    expect(t.split('\n')[0]).toBe('Point.origin: Point');
    expect(t).toContain('x: 0');
    expect(text({ inspected: { answer: 42 } }, 'insp|ected')).toBe('inspected: Object\nValue: { answer: 42 }');
    expect(text({ n: 3 }, 'n')).toBe('n: number\nValue: 3');
    expect(text({ s: 'hi' }, 's.length')).toBe('s.length: number\nValue: 2');
    expect(text({}, 'neverDefined')).toBe('(not found)');
    expect(text({ a: { b: 1 } }, '// a.b|')).toBe('(not found)');
  });
});

describe('inspect and complete never throw on exotic values', () => {
  const thrower = () => {
    throw new Error('trap');
  };
  const allTraps = { get: thrower, has: thrower, ownKeys: thrower, getPrototypeOf: thrower, getOwnPropertyDescriptor: thrower, apply: thrower };
  const revocable = Proxy.revocable({ a: 1 }, {});
  revocable.revoke();
  const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { k: 1 });
  const getters = Object.defineProperty({ plain: 1 }, 'boom', { get: thrower, enumerable: true });
  const protoProxy = Object.create(new Proxy({}, allTraps)) as object;
  const customInspect = { [inspect.custom]: thrower, x: 1 };
  const toStringTag = Object.defineProperty({}, Symbol.toStringTag, { get: thrower });
  const big = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`p${i}`, i]));
  const global = {
    trap: new Proxy({ a: 1 }, allTraps),
    trapFn: new Proxy(function target() {}, allTraps),
    revoked: revocable.proxy,
    nullProto,
    getters,
    protoProxy,
    customInspect,
    toStringTag,
    big,
  };

  test.each([
    ['trap', 'trap: Proxy'],
    ['trapFn', 'trapFn: Proxy (function)'],
    ['revoked', 'revoked: Proxy\nValue: <Revoked Proxy>'],
    ['nullProto', 'nullProto: Object (null prototype)'],
    ['getters', 'getters: Object'],
    ['protoProxy', 'protoProxy: '],
    ['customInspect', 'customInspect: Object'],
    ['toStringTag', 'toStringTag: Object'],
    ['big', 'big: Object\nValue: (first 200 of 10000 own properties)'],
  ])('%s', (name, start) => {
    for (const level of [0, 1]) {
      const t = text(global, name, level);
      expect(t.startsWith(start)).toBe(true);
      expect(t.length).toBeLessThan(120_000);
    }
    for (const code of [`${name}.`, `${name}.a`, `${name}["`, `${name}.a.b`]) expect(complete(global, code, points(code)).status).toBe('ok');
    expect(inspectAt(global, `${name}.a.b`, points(`${name}.a.b`), 0).status).toBe('ok');
  });

  test('details of a few', () => {
    expect(text(global, 'getters')).toContain('boom: [Getter]');
    expect(text(global, 'nullProto')).toContain('k: 1');
    expect(complete(global, 'getters.pl', 10).matches).toEqual(['plain']);
    expect(complete(global, 'trap.', 5).matches).toEqual([]);
  });
});
