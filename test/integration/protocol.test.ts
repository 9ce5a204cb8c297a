// Protocol (spec 5.5): kernel_info on shell and control, busy/idle plumbing, unknown requests, history, is_complete, complete, inspect.
import { startTestKernel, TestKernel } from '../support/kernel-client';
import type { Message } from '../../kernel/protocol/messages';

let k: TestKernel;
beforeAll(async () => {
  k = await startTestKernel();
});
afterAll(async () => {
  await k.stop();
});

function codePoints(s: string): number {
  return [...s].length;
}

/** Every request is wrapped in exactly one busy and one idle, both with the request as parent. */
function expectBusyIdleAround(msgId: string): void {
  const mine = k.client.iopubFor(msgId);
  const statuses = mine.filter((m) => m.header.msg_type === 'status').map((m) => m.content.execution_state);
  expect(statuses).toEqual(['busy', 'idle']);
  expect(mine[0].header.msg_type).toBe('status');
  expect(mine[0].content.execution_state).toBe('busy');
  expect(mine[mine.length - 1].content.execution_state).toBe('idle');
  for (const m of mine) expect(m.parent_header.msg_id).toBe(msgId);
}

function expectKernelInfo(reply: Message): void {
  expect(reply.header.msg_type).toBe('kernel_info_reply');
  expect(reply.header.version).toBe('5.5');
  const c = reply.content as Record<string, unknown> & { language_info: Record<string, unknown> };
  expect(c.status).toBe('ok');
  expect(c.protocol_version).toBe('5.5');
  expect(c.implementation).toBe('opsbook');
  expect(typeof c.implementation_version).toBe('string');
  expect(typeof c.banner).toBe('string');
  expect(c.language_info).toEqual(
    expect.objectContaining({
      name: 'typescript',
      version: expect.any(String),
      mimetype: 'text/typescript',
      file_extension: '.ts',
      pygments_lexer: 'typescript',
      codemirror_mode: expect.anything(),
      nbconvert_exporter: expect.any(String),
    }),
  );
  expect(Array.isArray(c.help_links)).toBe(true);
  const links = c.help_links as Array<{ text: unknown; url: unknown }>;
  expect(links.length).toBeGreaterThan(0);
  for (const l of links) {
    expect(typeof l.text).toBe('string');
    expect(String(l.url)).toMatch(/^https?:\/\//);
  }
  expect(Array.isArray(c.supported_features)).toBe(true);
  for (const f of c.supported_features as unknown[]) expect(typeof f).toBe('string');
  expect(typeof c.debugger).toBe('boolean');
}

describe('kernel_info', () => {
  test.each(['shell', 'control'] as const)('on %s: full reply, busy/idle with the request as parent', async (channel) => {
    const r = await k.client.call('kernel_info_request', {}, { channel });
    expectKernelInfo(r.reply);
    expect(r.reply.parent_header.msg_type).toBe('kernel_info_request');
    expect(r.reply.header.session).toBe(k.client.iopubLog.find((m) => m.header.msg_type === 'status')?.header.session);
    expectBusyIdleAround(String(r.reply.parent_header.msg_id));
  });
});

describe('busy/idle around every request', () => {
  const requests: Array<[string, Record<string, unknown>, 'shell' | 'control']> = [
    ['execute_request', { code: '1 + 1', silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true }, 'shell'],
    ['complete_request', { code: 'Mat', cursor_pos: 3 }, 'shell'],
    ['inspect_request', { code: 'Math', cursor_pos: 2, detail_level: 0 }, 'shell'],
    ['is_complete_request', { code: 'let a = 1' }, 'shell'],
    ['history_request', { hist_access_type: 'tail', n: 1, output: false, raw: true }, 'shell'],
    ['comm_info_request', {}, 'shell'],
    ['comm_info_request', {}, 'control'],
    ['is_complete_request', { code: 'let a = 1' }, 'control'],
  ];
  test.each(requests)('%s on %s', async (msgType, content, channel) => {
    const r = await k.client.call(msgType, content, { channel });
    expect(r.reply.header.msg_type).toBe(msgType.replace(/_request$/, '_reply'));
    // is_complete_reply's status is the verdict (complete/incomplete/invalid/unknown), every other reply says ok
    expect(r.reply.content.status).toBe(msgType === 'is_complete_request' ? 'complete' : 'ok');
    expectBusyIdleAround(String(r.reply.parent_header.msg_id));
  });
});

describe('unknown request type', () => {
  test.each(['shell', 'control'] as const)('foo_request on %s gets an error reply and the kernel keeps working', async (channel) => {
    const r = await k.client.call('foo_request', { x: 1 }, { channel });
    expect(r.reply.header.msg_type).toBe('foo_reply');
    expect(r.reply.content.status).toBe('error');
    expect(typeof r.reply.content.ename).toBe('string');
    expect(String(r.reply.content.evalue)).toContain('foo_request');
    expectBusyIdleAround(String(r.reply.parent_header.msg_id));
    const after = await k.client.execute('6 * 7');
    expect(after.reply.content.status).toBe('ok');
    expect(after.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': '42' });
  });
});

describe('history', () => {
  const counts: number[] = [];
  const cells = ['const histA = 1', 'const histB = 2', 'histA + histB', 'histA + histB'];
  beforeAll(async () => {
    for (const code of cells) {
      const r = await k.client.execute(code);
      expect(r.reply.content.status).toBe('ok');
      counts.push(Number(r.reply.content.execution_count));
    }
  });

  test('tail with n returns the last n inputs', async () => {
    const r = await k.client.request('history_request', { hist_access_type: 'tail', n: 2, output: false, raw: true });
    expect(r.content.status).toBe('ok');
    const history = r.content.history as Array<[number, number, string]>;
    expect(history).toHaveLength(2);
    expect(history.map((h) => h[1])).toEqual(counts.slice(-2));
    expect(history.map((h) => h[2])).toEqual(cells.slice(-2));
    for (const h of history) expect(typeof h[0]).toBe('number');
  });

  test('range returns lines start..stop-1 of the session', async () => {
    const r = await k.client.request('history_request', { hist_access_type: 'range', session: 0, start: counts[0], stop: counts[2], output: false, raw: true });
    const history = r.content.history as Array<[number, number, string]>;
    expect(history.map((h) => [h[1], h[2]])).toEqual([
      [counts[0], cells[0]],
      [counts[1], cells[1]],
    ]);
  });

  test('search with pattern, unique and n', async () => {
    // glob patterns match the whole input (SQL GLOB, as in IPython): 'histA*' only matches inputs starting with it
    const all = await k.client.request('history_request', { hist_access_type: 'search', pattern: 'histA*', output: false, raw: true });
    const allInputs = (all.content.history as Array<[number, number, string]>).map((h) => h[2]);
    expect(allInputs).toEqual(['histA + histB', 'histA + histB']);

    const unique = await k.client.request('history_request', { hist_access_type: 'search', pattern: '*hist*', unique: true, output: false, raw: true });
    const uniqueRows = unique.content.history as Array<[number, number, string]>;
    expect(uniqueRows.map((h) => h[2])).toEqual(['const histA = 1', 'const histB = 2', 'histA + histB']);
    expect(uniqueRows[2][1]).toBe(counts[3]); // the newest occurrence is the one kept

    const limited = await k.client.request('history_request', { hist_access_type: 'search', pattern: 'const hist*', n: 1, output: false, raw: true });
    expect((limited.content.history as Array<[number, number, string]>).map((h) => h[2])).toEqual(['const histB = 2']);

    const none = await k.client.request('history_request', { hist_access_type: 'search', pattern: 'no such cell*', output: false, raw: true });
    expect(none.content.history).toEqual([]);
  });
});

describe('is_complete', () => {
  test('complete code', async () => {
    const r = await k.client.request('is_complete_request', { code: 'const x = 1 + 2' });
    expect(r.content.status).toBe('complete');
  });
  test('an open block is incomplete, with an indent', async () => {
    const r = await k.client.request('is_complete_request', { code: 'function f() {' });
    expect(r.content.status).toBe('incomplete');
    expect(typeof r.content.indent).toBe('string');
    expect(String(r.content.indent).length).toBeGreaterThan(0);
    expect(String(r.content.indent).trim()).toBe('');
  });
  test('an unterminated template literal is incomplete', async () => {
    const r = await k.client.request('is_complete_request', { code: 'const s = `abc' });
    expect(r.content.status).toBe('incomplete');
  });
  test('a syntax error before the end is invalid', async () => {
    const r = await k.client.request('is_complete_request', { code: '1 +* 2)' });
    expect(r.content.status).toBe('invalid');
  });
});

describe('complete', () => {
  beforeAll(async () => {
    const r = await k.client.execute('const obj = {alpha: 1, alps: 2, beta: 3}');
    expect(r.reply.content.status).toBe('ok');
  });

  test('properties of a live object', async () => {
    const code = 'obj.al';
    const r = await k.client.call('complete_request', { code, cursor_pos: code.length });
    expect(r.reply.content.status).toBe('ok');
    expect(r.reply.content.matches).toEqual(['alpha', 'alps']);
    expect(r.reply.content.cursor_start).toBe(4);
    expect(r.reply.content.cursor_end).toBe(6);
    expect(r.reply.content.metadata).toEqual(expect.any(Object));
  });

  test('cursor positions are Unicode code points (emoji before the cursor)', async () => {
    const code = 'const face = "😀🎉"; obj.al';
    const cursor = codePoints(code);
    expect(cursor).toBeLessThan(code.length); // emoji are two UTF-16 units each
    const r = await k.client.request('complete_request', { code, cursor_pos: cursor });
    expect(r.content.matches).toEqual(['alpha', 'alps']);
    expect(r.content.cursor_start).toBe(cursor - 2);
    expect(r.content.cursor_end).toBe(cursor);
  });

  test('cursor in the middle of a line with emoji after it', async () => {
    const code = '"😀"; obj.al + "🎉"';
    const cursor = codePoints('"😀"; obj.al');
    const r = await k.client.request('complete_request', { code, cursor_pos: cursor });
    expect(r.content.matches).toEqual(['alpha', 'alps']);
    expect(r.content.cursor_start).toBe(cursor - 2);
    expect(r.content.cursor_end).toBe(cursor);
  });

  test('no matches for an unknown object', async () => {
    const r = await k.client.request('complete_request', { code: 'nothingHere123.a', cursor_pos: 16 });
    expect(r.content.status).toBe('ok');
    expect(r.content.matches).toEqual([]);
  });
});

describe('inspect', () => {
  test('found for a defined variable', async () => {
    await k.client.execute('const inspected = {answer: 42}');
    const r = await k.client.call('inspect_request', { code: 'inspected', cursor_pos: 4, detail_level: 0 });
    expect(r.reply.content.status).toBe('ok');
    expect(r.reply.content.found).toBe(true);
    const data = r.reply.content.data as Record<string, string>;
    expect(data['text/plain']).toContain('answer');
    expect(data['text/plain']).toContain('42');
  });
  test('not found for an undefined name', async () => {
    const r = await k.client.request('inspect_request', { code: 'neverDefinedAnywhere', cursor_pos: 5, detail_level: 0 });
    expect(r.content.status).toBe('ok');
    expect(r.content.found).toBe(false);
    expect(r.content.data).toEqual({});
  });
});
