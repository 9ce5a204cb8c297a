// Rich display over real ZeroMQ: tables of objects, the html/markdown/svg/png/json helpers, display methods, errors.
import { startTestKernel, TestKernel } from '../support/kernel-client';
import type { Message } from '../../kernel/protocol/messages';

let k: TestKernel;
beforeAll(async () => {
  k = await startTestKernel();
});
afterAll(async () => {
  await k.stop();
});

/** A real 3×2 grayscale PNG. */
const PNG_BASE64 = 'iVBORw0KGgoAAAANSUhEUgAAAAMAAAACCAAAAAC4HznGAAAAC0lEQVR4nGNggAAAAAgAAbdYc5UAAAAASUVORK5CYII=';

const types = (outputs: Message[]) => outputs.map((m) => m.header.msg_type);
const first = (outputs: Message[], type: string) => outputs.find((m) => m.header.msg_type === type);
const dataOf = (m: Message | undefined) => (m?.content.data ?? {}) as Record<string, unknown>;

test('an array of plain objects is an execute_result with an escaped HTML table and util.inspect text', async () => {
  const r = await k.client.execute('[{a: 1, b: "<x>"}, {a: 2}]');
  expect(r.reply.content.status).toBe('ok');
  expect(types(r.outputs)).toEqual(['execute_input', 'execute_result']);
  const data = dataOf(first(r.outputs, 'execute_result'));
  expect(data['text/plain']).toBe("[ { a: 1, b: '<x>' }, { a: 2 } ]");
  const table = String(data['text/html']);
  expect(table).toContain('<thead><tr><th></th><th>a</th><th>b</th></tr></thead>');
  expect(table).toContain('<tr><th>0</th><td>1</td><td>&lt;x&gt;</td></tr>');
  expect(table).toContain('<tr><th>1</th><td>2</td><td></td></tr>');
  expect(table).not.toContain('<x>');
});

test('a <script> in a cell value comes out as text', async () => {
  const r = await k.client.execute('[{ name: "<script>alert(1)</script>" }]');
  const table = String(dataOf(first(r.outputs, 'execute_result'))['text/html']);
  expect(table).not.toContain('<script');
  expect(table).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
});

test('a big array of objects shows 1,000 rows and a note', async () => {
  const r = await k.client.execute('Array.from({ length: 1500 }, (_, i) => ({ i }))');
  const table = String(dataOf(first(r.outputs, 'execute_result'))['text/html']);
  expect(table.match(/<tr><th>\d+<\/th>/g)).toHaveLength(1000);
  expect(table).toContain('… 500 more rows');
});

test('html("<b>x</b>") as the last expression gives text/html', async () => {
  const r = await k.client.execute('html("<b>x</b>")');
  expect(types(r.outputs)).toEqual(['execute_input', 'execute_result']);
  expect(dataOf(first(r.outputs, 'execute_result'))).toEqual({ 'text/html': '<b>x</b>', 'text/plain': 'x' });
});

test('display(markdown("# t")) gives display_data with text/markdown', async () => {
  const r = await k.client.execute('display(markdown("# t"))');
  expect(r.reply.content.status).toBe('ok');
  expect(types(r.outputs)).toEqual(['execute_input', 'display_data']);
  const d = first(r.outputs, 'display_data');
  expect(dataOf(d)).toEqual({ 'text/markdown': '# t', 'text/plain': '# t' });
  expect(typeof (d?.content.transient as Record<string, unknown>).display_id).toBe('string');
});

test('svg, png and json helpers', async () => {
  const r = await k.client.execute([
    'display(svg(\'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>\'));',
    `display(png(Buffer.from("${PNG_BASE64}", "base64")));`,
    'display(json({ up: [1, 0], job: "api" }));',
  ].join('\n'));
  expect(r.reply.content.status).toBe('ok');
  const shown = r.outputs.filter((m) => m.header.msg_type === 'display_data').map(dataOf);
  expect(shown).toEqual([
    { 'image/svg+xml': '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>', 'text/plain': '[SVG image 4×4]' },
    { 'image/png': PNG_BASE64, 'text/plain': '[PNG image 3×2, 68 bytes]' },
    { 'application/json': { up: [1, 0], job: 'api' }, 'text/plain': "{ up: [ 1, 0 ], job: 'api' }" },
  ]);
});

test('png(Buffer.from("nope")) fails the cell with a clear error that points at the cell', async () => {
  const r = await k.client.execute('const ok = 1\npng(Buffer.from("nope"))');
  expect(r.reply.content.status).toBe('error');
  expect(r.reply.content.ename).toBe('TypeError');
  expect(r.reply.content.evalue).toBe('png() expects PNG data, but the data does not start with the PNG signature (89 50 4e 47 0d 0a 1a 0a): it starts with 6e 6f 70 65 (only 4 bytes)');
  const error = first(r.outputs, 'error');
  expect(error?.content.evalue).toBe(r.reply.content.evalue);
  const traceback = (error?.content.traceback ?? []) as string[];
  expect(traceback.some((line) => line.includes('<cell') && line.includes(':2:'))).toBe(true);
  expect(traceback.some((line) => line.includes('display.js'))).toBe(false);
});

test('a display handle updates with a helper value', async () => {
  const r = await k.client.execute('const progress = display(html("<progress value=1 max=3></progress>")); progress.update(html("<b>done</b>")); undefined');
  expect(types(r.outputs)).toEqual(['execute_input', 'display_data', 'update_display_data']);
  const [, shown, updated] = r.outputs;
  expect(dataOf(updated)).toEqual({ 'text/html': '<b>done</b>', 'text/plain': 'done' });
  expect((updated.content.transient as Record<string, unknown>).display_id).toBe((shown.content.transient as Record<string, unknown>).display_id);
  // a plain mime bundle still works, and display(x, { id, update: true }) takes helper values too
  const id = String((shown.content.transient as Record<string, unknown>).display_id);
  const again = await k.client.execute(`progress.update({ "text/plain": "plain" }); display(markdown("**md**"), { id: ${JSON.stringify(id)}, update: true })`);
  const updates = again.outputs.filter((m) => m.header.msg_type === 'update_display_data');
  expect(updates.map(dataOf)).toEqual([{ 'text/plain': 'plain' }, { 'text/markdown': '**md**', 'text/plain': '**md**' }]);
});

test('handle.update(value) formats a plain value exactly as display(value) does', async () => {
  // each value is displayed, then a handle is updated with the same value: both must carry the same bundle
  const values = [
    '"done"',
    '42',
    '[1, "two", 3]',
    '{ service: "api", replicas: 3 }',
    '[{ name: "api", up: true }, { name: "db", up: false }]',
    'null',
    'new Map([["a", 1]])',
    '{ [Symbol.for("Jupyter.display")]() { return { "text/html": "<i>rich</i>" } } }',
    'html("<b>x</b>")',
    '{ "text/plain": 5 }', // looks like a bundle, but 5 is no valid text/plain: formatted as a value
  ];
  for (const value of values) {
    const r = await k.client.execute(`{ const shownValue = ${value}; const target = display("starting"); display(shownValue); target.update(shownValue); }`);
    expect(r.reply.content.status).toBe('ok');
    const [, shown] = r.outputs.filter((m) => m.header.msg_type === 'display_data');
    const updated = first(r.outputs, 'update_display_data');
    expect({ value, data: updated?.content.data, metadata: updated?.content.metadata }).toEqual({ value, data: shown.content.data, metadata: shown.content.metadata });
    expect(typeof dataOf(updated)['text/plain']).toBe('string');
  }
  const r = await k.client.execute('const later = display("starting"); undefined');
  const id = (first(r.outputs, 'display_data')?.content.transient as Record<string, unknown>).display_id;
  // from a later cell, too
  const again = await k.client.execute('later.update("done")');
  const up = first(again.outputs, 'update_display_data');
  expect(up?.content).toEqual({ data: { 'text/plain': "'done'" }, metadata: {}, transient: { display_id: id } });
});

test('a display method that throws shows text and the cell still succeeds', async () => {
  const r = await k.client.execute('const bad = { n: 1, [Symbol.for("Jupyter.display")]() { throw new Error("boom") } }; display(bad); bad');
  expect(r.reply.content.status).toBe('ok');
  expect(types(r.outputs)).toEqual(['execute_input', 'display_data', 'execute_result']);
  for (const m of r.outputs.slice(1)) {
    expect(Object.keys(dataOf(m))).toEqual(['text/plain']);
    expect(String(dataOf(m)['text/plain'])).toContain('n: 1');
  }
});

test('_repr_mimebundle_ and class instances', async () => {
  const r = await k.client.execute('class Chart { _repr_mimebundle_() { return { "text/html": "<i>chart</i>" } } }; new Chart()');
  const data = dataOf(first(r.outputs, 'execute_result'));
  expect(data['text/html']).toBe('<i>chart</i>');
  expect(data['text/plain']).toBe('Chart {}');
});

test('Node-style text: a pending Promise made in a cell, a Map, a string', async () => {
  const p = await k.client.execute('new Promise(() => {})');
  expect(dataOf(first(p.outputs, 'execute_result'))).toEqual({ 'text/plain': 'Promise { <pending> }' });
  const m = await k.client.execute('new Map([["a", 1], ["b", 2]])');
  expect(dataOf(first(m.outputs, 'execute_result'))).toEqual({ 'text/plain': "Map(2) { 'a' => 1, 'b' => 2 }" });
  const s = await k.client.execute('"<b>"');
  expect(dataOf(first(s.outputs, 'execute_result'))).toEqual({ 'text/plain': "'<b>'" });
});

test('a cell may still name its own variables html or json', async () => {
  const r = await k.client.execute('const json = { a: 1 }; let html = "<p>"; [json, html]');
  expect(r.reply.content.status).toBe('ok');
  expect(dataOf(first(r.outputs, 'execute_result'))).toEqual({ 'text/plain': "[ { a: 1 }, '<p>' ]" });
});
