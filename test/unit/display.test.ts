// Unit tests of display.ts: the rich helpers' bundles, tables of objects (escaping, row cap), display methods, util.inspect pins.
import { inspect } from 'node:util';
import { AsyncLocalStorage } from 'node:async_hooks';
import * as vm from 'node:vm';
import { tableHtml, toBundle, toUpdateBundle, TABLE_MAX_ROWS } from '../../kernel/executor/cell-thread/display';
import { html, json, markdown, png, svg, RichValue } from '../../kernel/executor/cell-thread/rich-values';
import { toErrorContent } from '../../kernel/executor/cell-thread/errors';

const DISPLAY = Symbol.for('Jupyter.display');
/** A real 3×2 grayscale PNG (68 bytes). */
const PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAAAAAC4HznGAAAAC0lEQVR4nGNggAAAAAgAAbdYc5UAAAAASUVORK5CYII=';
const PNG_BYTES = Buffer.from(PNG_BASE64, 'base64');

const data = (value: unknown) => toBundle(value).data;
const text = (value: unknown) => toBundle(value).data['text/plain'];

describe('rich helpers', () => {
  test('html(string): text/html as is, text/plain without tags', () => {
    const v = html('<b>bold</b> and <script>alert(1)</script><i>more</i>');
    expect(v).toBeInstanceOf(RichValue);
    expect(data(v)).toEqual({ 'text/html': '<b>bold</b> and <script>alert(1)</script><i>more</i>', 'text/plain': 'bold and more' });
    expect(data(html('<hr>'))['text/plain']).toBe('[HTML]');
    expect(String(data(html(`<p>${'x'.repeat(1000)}</p>`))['text/plain']).length).toBe(200);
  });

  test('markdown(string): text/markdown and its source as text', () => {
    expect(data(markdown('# Title\n\n*hi*'))).toEqual({ 'text/markdown': '# Title\n\n*hi*', 'text/plain': '# Title\n\n*hi*' });
  });

  test('svg(string): image/svg+xml, text/plain with the size when the tag has one', () => {
    const source = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="20"><rect width="10" height="20"/></svg>';
    expect(data(svg(source))).toEqual({ 'image/svg+xml': source, 'text/plain': '[SVG image 10×20]' });
    expect(data(svg('<?xml version="1.0"?><svg viewBox="0 0 1 1"></svg>'))['text/plain']).toBe('[SVG image]');
    expect(() => svg('<div>not svg</div>')).toThrow(/svg\(\) expects SVG markup/);
  });

  test('png(Buffer | Uint8Array | base64 | data URL): image/png as base64, size in the text', () => {
    const expected = { 'image/png': PNG_BASE64, 'text/plain': '[PNG image 3×2, 68 bytes]' };
    expect(data(png(PNG_BYTES))).toEqual(expected);
    expect(data(png(new Uint8Array(PNG_BYTES)))).toEqual(expected);
    expect(data(png(PNG_BASE64))).toEqual(expected);
    expect(data(png(`data:image/png;base64,${PNG_BASE64}`))).toEqual(expected);
    // a Uint8Array that is a window into a larger buffer
    const padded = Buffer.concat([Buffer.from('xx'), PNG_BYTES, Buffer.from('yy')]);
    expect(data(png(padded.subarray(2, 2 + PNG_BYTES.length)))).toEqual(expected);
  });

  test('png() with data that is not a PNG: a clear error', () => {
    expect(() => png(Buffer.from('nope'))).toThrow(TypeError);
    expect(() => png(Buffer.from('nope'))).toThrow('png() expects PNG data, but the data does not start with the PNG signature (89 50 4e 47 0d 0a 1a 0a): it starts with 6e 6f 70 65 (only 4 bytes)');
    expect(() => png(Buffer.alloc(0))).toThrow(/the data is empty/);
    expect(() => png(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0, 0]))).toThrow(/looks like a JPEG.*image\/jpeg/);
    expect(() => png(Buffer.from('GIF89a......'))).toThrow(/looks like a GIF/);
    expect(() => png(Buffer.from('<svg></svg>'))).toThrow(/use svg\(/);
    expect(() => png('chart.png')).toThrow(/not base64 PNG data.*readFileSync/);
    expect(() => png('aGVsbG8gd29ybGQ=')).toThrow(/PNG signature.*a string is read as base64/);
    expect(() => png(42 as unknown as string)).toThrow('png() expects a Buffer, a Uint8Array or a base64 string, got number');
  });

  test('json(value): application/json (a snapshot) and util.inspect text', () => {
    const value = { a: 1, list: [1, 'two', null], nested: { ok: true } };
    const v = json(value);
    value.a = 2;
    expect(data(v)).toEqual({ 'application/json': { a: 1, list: [1, 'two', null], nested: { ok: true } }, 'text/plain': "{ a: 1, list: [ 1, 'two', null ], nested: { ok: true } }" });
    expect(data(json([1, 2]))['application/json']).toEqual([1, 2]);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => json(cyclic)).toThrow(/json\(\) expects a value JSON can encode: Converting circular structure/);
    expect(() => json(undefined)).toThrow('json() expects a value JSON can encode, got undefined');
    expect(() => json(1n)).toThrow(/BigInt/);
  });

  test('helpers reject values that are not strings', () => {
    expect(() => html(1 as unknown as string)).toThrow('html() expects a string, got number');
    expect(() => markdown(null as unknown as string)).toThrow('markdown() expects a string, got null');
    expect(() => svg(Buffer.from('<svg/>') as unknown as string)).toThrow('svg() expects a string, got a Buffer');
  });

  test('a helper value prints as its text fallback, and its bundle is a copy', () => {
    expect(inspect(png(PNG_BYTES))).toBe('[PNG image 3×2, 68 bytes]');
    expect(inspect({ chart: html('<b>x</b>') })).toBe('{ chart: x }');
    const v = html('<b>x</b>') as unknown as Record<symbol, () => Record<string, unknown>>;
    v[DISPLAY]()['text/html'] = 'changed';
    expect(v[DISPLAY]()['text/html']).toBe('<b>x</b>');
  });
});

describe('display methods', () => {
  test('Symbol.for("Jupyter.display"): the bundle, with a text/plain added when missing', () => {
    const v = { [DISPLAY]: () => ({ 'text/html': '<b>hi</b>' }) };
    expect(data(v)).toEqual({ 'text/html': '<b>hi</b>', 'text/plain': inspect(v, { depth: 4, maxArrayLength: 200, breakLength: 100 }) });
    expect(data({ [DISPLAY]: () => ({ 'text/html': '<i>x</i>', 'text/plain': 'x' }) })).toEqual({ 'text/html': '<i>x</i>', 'text/plain': 'x' });
  });

  test('_repr_mimebundle_(): the bundle; a [data, metadata] pair keeps the metadata', () => {
    class Chart {
      _repr_mimebundle_() {
        return { 'image/svg+xml': '<svg/>', 'text/plain': 'a chart' };
      }
    }
    expect(toBundle(new Chart())).toEqual({ data: { 'image/svg+xml': '<svg/>', 'text/plain': 'a chart' }, metadata: {} });
    const pair = { _repr_mimebundle_: () => [{ 'image/png': PNG_BASE64 }, { 'image/png': { width: 30 } }] };
    const b = toBundle(pair);
    expect(b.metadata).toEqual({ 'image/png': { width: 30 } });
    expect(b.data['image/png']).toBe(PNG_BASE64);
    expect(typeof b.data['text/plain']).toBe('string');
  });

  test('Symbol.for("Jupyter.display") wins over _repr_mimebundle_', () => {
    expect(data({ [DISPLAY]: () => ({ 'text/plain': 'deno' }), _repr_mimebundle_: () => ({ 'text/plain': 'ipython' }) })).toEqual({ 'text/plain': 'deno' });
  });

  test('a bundle is made safe to send: JSON types are cloned, bytes become base64, functions are dropped', () => {
    const v = {
      [DISPLAY]: () => ({
        'application/vnd.plotly.v1+json': { data: [{ x: [1], y: [2] }] },
        'image/png': PNG_BYTES,
        'text/html': () => 'not a string',
        'text/plain': 'plot',
      }),
    };
    expect(data(v)).toEqual({ 'application/vnd.plotly.v1+json': { data: [{ x: [1], y: [2] }] }, 'image/png': PNG_BASE64, 'text/plain': 'plot' });
  });

  test('a display method that throws, or returns nothing usable, falls back to text/plain', () => {
    const throwing = { name: 'broken', [DISPLAY]: () => { throw new Error('boom'); } };
    expect(toBundle(throwing)).toEqual({ data: { 'text/plain': inspect(throwing, { depth: 4, maxArrayLength: 200, breakLength: 100 }) }, metadata: {} });
    expect(Object.keys(data({ _repr_mimebundle_: () => { throw new Error('boom'); } }))).toEqual(['text/plain']);
    expect(Object.keys(data({ [DISPLAY]: () => 'a string' }))).toEqual(['text/plain']);
    expect(Object.keys(data({ [DISPLAY]: () => null }))).toEqual(['text/plain']);
    expect(Object.keys(data({ [DISPLAY]: async () => ({ 'text/html': 'x' }) }))).toEqual(['text/plain']);
    expect(Object.keys(data({ [DISPLAY]: () => ({ 'text/html': 42 }) }))).toEqual(['text/plain']);
  });

  test('values util.inspect cannot show never make toBundle throw', () => {
    const badInspect = { [inspect.custom]: () => { throw new Error('no'); } };
    expect(data(badInspect)).toEqual({ 'text/plain': '[object Object]' });
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(() => toBundle(proxy)).not.toThrow();
    expect(typeof data(proxy)['text/plain']).toBe('string');
    const getterThrows = [{ get a() { throw new Error('getter'); } }];
    expect(() => toBundle(getterThrows)).not.toThrow();
  });
});

describe('tables of plain objects', () => {
  test('columns are the union of keys in first-seen order; missing cells are empty', () => {
    const rows = [{ a: 1, b: 'x' }, { c: true, a: 2 }];
    const table = tableHtml(rows);
    expect(table).toBe([
      '<table>',
      '<thead><tr><th></th><th>a</th><th>b</th><th>c</th></tr></thead>',
      '<tbody>',
      '<tr><th>0</th><td>1</td><td>x</td><td></td></tr>',
      '<tr><th>1</th><td>2</td><td></td><td>true</td></tr>',
      '</tbody>',
      '</table>',
    ].join('\n'));
    expect(toBundle(rows)).toEqual({ data: { 'text/plain': "[ { a: 1, b: 'x' }, { c: true, a: 2 } ]", 'text/html': table }, metadata: {} });
  });

  test('every cell and header is HTML-escaped', () => {
    const table = String(tableHtml([{ '<th>': '<script>alert("x")</script>', b: "it's & <b>" }, { b: { html: '<img src=x onerror=alert(1)>' } }]));
    expect(table).not.toMatch(/<script|<img|<b>|<th><th>/);
    expect(table).toContain('<th>&lt;th&gt;</th>');
    expect(table).toContain('<td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</td>');
    expect(table).toContain('<td>it&#39;s &amp; &lt;b&gt;</td>');
    expect(table).toContain('<td>{ html: &#39;&lt;img src=x onerror=alert(1)&gt;&#39; }</td>');
  });

  test('nested and special values use util.inspect, compact, on one line', () => {
    const when = new Date('2024-01-02T03:04:05.000Z');
    const table = String(tableHtml([{ nested: { deep: { list: [1, 2, 3] } }, when, n: null, u: undefined, big: 10n, map: new Map([['k', 1]]) }]));
    expect(table).toContain('<td>{ deep: { list: [ 1, 2, 3 ] } }</td>');
    expect(table).toContain('<td>2024-01-02T03:04:05.000Z</td>');
    expect(table).toContain('<td>null</td><td>undefined</td><td>10n</td>');
    expect(table).toContain('<td>Map(1) { &#39;k&#39; =&gt; 1 }</td>');
  });

  test(`at most ${TABLE_MAX_ROWS} rows, with a note for the rest`, () => {
    const rows = Array.from({ length: TABLE_MAX_ROWS + 234 }, (_, i) => ({ i }));
    const table = String(tableHtml(rows));
    expect(table.match(/<tr><th>\d+<\/th>/g)).toHaveLength(TABLE_MAX_ROWS);
    expect(table).toContain(`<tr><th>${TABLE_MAX_ROWS - 1}</th><td>${TABLE_MAX_ROWS - 1}</td></tr>`);
    expect(table).not.toContain(`<td>${TABLE_MAX_ROWS}</td>`);
    expect(table.endsWith('</table>\n<p><em>… 234 more rows</em></p>')).toBe(true);
    expect(String(toBundle(rows).data['text/plain'])).toContain('... 1034 more items');
    expect(tableHtml(rows.slice(0, TABLE_MAX_ROWS))).not.toContain('more rows');
  });

  test('only arrays whose elements are all non-null plain objects become tables', () => {
    class Point {
      constructor(readonly x: number) {}
    }
    for (const notTable of [[], [{}, {}], [{ a: 1 }, null], [{ a: 1 }, 2], [{ a: 1 }, [1]], [new Point(1)], [{ a: 1 }, new Date(0)], { a: 1 }, 'text']) {
      expect(tableHtml(notTable)).toBeUndefined();
      expect(Object.keys(data(notTable))).toEqual(['text/plain']);
    }
    expect(tableHtml([{ a: 1 }, , { a: 2 }])).toBeUndefined();
    expect(tableHtml([Object.assign(Object.create(null) as object, { a: 1 })])).toContain('<td>1</td>');
    expect(tableHtml(vm.runInNewContext('[{ a: 1 }]'))).toContain('<td>1</td>');
  });
});

describe('util.inspect rendering (pinned)', () => {
  test('strings are quoted; numbers, booleans, null, bigint', () => {
    expect(text('text')).toBe("'text'");
    expect(text("it's")).toBe(`"it's"`);
    expect(text(42)).toBe('42');
    expect(text(true)).toBe('true');
    expect(text(null)).toBe('null');
    expect(text(10n)).toBe('10n');
    expect(text(Symbol('s'))).toBe('Symbol(s)');
  });

  test('Map, Set, Date, Buffer, Promise, class instances, functions', () => {
    expect(text(new Map<string, number>([['a', 1], ['b', 2]]))).toBe("Map(2) { 'a' => 1, 'b' => 2 }");
    expect(text(new Set([1, 'two']))).toBe("Set(2) { 1, 'two' }");
    expect(text(new Date('2024-01-02T03:04:05.000Z'))).toBe('2024-01-02T03:04:05.000Z');
    expect(text(Buffer.from('hi'))).toBe('<Buffer 68 69>');
    expect(text(new Promise(() => undefined))).toBe('Promise { <pending> }');
    expect(text(Promise.resolve(5))).toBe('Promise { 5 }');
    class Service {
      name = 'api';
      replicas = 3;
    }
    expect(text(new Service())).toBe("Service { name: 'api', replicas: 3 }");
    expect(text(function deploy() { return 1; })).toBe('[Function: deploy]');
    expect(text([1, 'a', { b: 2 }])).toBe("[ 1, 'a', { b: 2 } ]");
  });

  test('promises made while a cell runs (AsyncLocalStorage) do not show async hook internals or the cell Io', () => {
    const store = new AsyncLocalStorage<{ secret: string }>();
    const made = store.run({ secret: 'the cell io' }, () => {
      const p = new Promise(() => undefined);
      return { p, nested: { list: [p, new Map([['k', p]])] } };
    });
    expect(inspect(made.p)).toContain('the cell io'); // what plain util.inspect would print
    expect(text(made.p)).toBe('Promise { <pending> }');
    expect(String(text(made))).not.toMatch(/cell io|async_id|kResourceStore/);
    expect(String(text(made))).toContain("list: [ Promise { <pending> }, Map(1) { 'k' => Promise { <pending> } } ]");
    expect(String(tableHtml([{ job: made.p }]))).toContain('<td>Promise { &lt;pending&gt; }</td>');
  });

  test('large values are inspected in their first items only', () => {
    const big = Array.from({ length: 2_000_000 }, (_, i) => i);
    const shown = String(text(big));
    expect(shown).toContain('... 1999800 more items');
    expect(shown.length).toBeLessThan(2_000);
  });

  test('a rejected Promise and an Error print like Node', () => {
    const rejected = Promise.reject(new Error('nope'));
    rejected.catch(() => undefined);
    expect(String(text(rejected))).toMatch(/^Promise \{\n {2}<rejected> Error: nope\n/);
    const e = new RangeError('out of range');
    expect(String(text(e))).toMatch(/^RangeError: out of range\n {4}at /);
  });

  test('deep objects are cut at depth 4, long arrays at 200 items', () => {
    expect(text({ a: { b: { c: { d: { e: { f: 1 } } } } } })).toBe('{\n  a: {\n    b: { c: { d: { e: [Object] } } }\n  }\n}');
    expect(String(text(Array.from({ length: 250 }, () => 0)))).toContain('... 50 more items');
  });

  test('toErrorContent never throws, even for values util.inspect cannot show', () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    expect(() => toErrorContent(proxy)).not.toThrow();
    expect(toErrorContent('plain')).toEqual({ ename: 'Uncaught', evalue: "'plain'", traceback: ["Uncaught 'plain'"] });
  });
});

describe('what a display handle update sends', () => {
  test('plain values, and values from another vm context, as display() formats them', () => {
    const other = vm.runInNewContext('({ list: ["a"], obj: { service: "api" } })') as { list: unknown; obj: unknown };
    for (const value of ['done', 42, null, undefined, [1, 2], { a: 1 }, [{ name: 'api' }], other.list, other.obj, html('<b>x</b>'), new Map([['k', 1]])]) {
      expect(toUpdateBundle(value)).toEqual(toBundle(value));
    }
  });

  test('a ready mime bundle goes as it is; one with an entry a frontend cannot take is a value', () => {
    expect(toUpdateBundle({ 'text/plain': '2' })).toEqual({ data: { 'text/plain': '2' }, metadata: {} });
    expect(toUpdateBundle({ 'text/html': '<b>x</b>', 'application/vnd.custom+json': { n: 1 } })).toEqual({ data: { 'text/html': '<b>x</b>', 'application/vnd.custom+json': { n: 1 } }, metadata: {} });
    expect(toUpdateBundle({ 'image/png': PNG_BYTES }).data).toEqual({ 'image/png': PNG_BASE64 });
    expect(toUpdateBundle(vm.runInNewContext('({ "text/plain": "from a cell" })'))).toEqual({ data: { 'text/plain': 'from a cell' }, metadata: {} });
    for (const value of [{ 'text/plain': 5 }, { 'text/plain': 'x', service: 'api' }, {}, { 'text/plain': ['a'] }]) {
      expect(toUpdateBundle(value)).toEqual(toBundle(value));
    }
    // a display method wins over keys that look like mime types, as in display()
    const rich = { 'text/plain': 'keys', [DISPLAY]: () => ({ 'text/html': '<i>method</i>' }) };
    expect(toUpdateBundle(rich)).toEqual(toBundle(rich));
    expect(toUpdateBundle(rich).data['text/html']).toBe('<i>method</i>');
  });
});
