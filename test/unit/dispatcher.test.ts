// Unit tests of the dispatcher plumbing with fake handlers: busy/idle around every request, replies,
// one-at-a-time shell queue, control not waiting for shell, stop_on_error aborts, unknown types.
import { Dispatcher, Handler } from '../../kernel/dispatcher';
import type { Message, OutgoingMessage } from '../../kernel/protocol/messages';

let n = 0;
function msg(msgType: string, content: Record<string, unknown> = {}): Message {
  n += 1;
  return { identities: [], header: { msg_id: `m${n}`, msg_type: msgType, session: 's', username: 'u', date: '', version: '5.5' }, parent_header: {}, metadata: {}, content, buffers: [] };
}

function setup(handlers: Record<string, Handler>) {
  const events: string[] = [];
  const replies: OutgoingMessage[] = [];
  const d = new Dispatcher(handlers, {
    reply: (channel, out) => {
      replies.push(out);
      events.push(`${channel}:${out.msg_type}:${String(out.parent_header.msg_id)}`);
    },
    status: (state, parent) => events.push(`${state}:${parent.header.msg_id}`),
  });
  return { d, events, replies };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

test('busy, reply, idle in that order', async () => {
  const { d, events } = setup({ kernel_info_request: () => ({ content: { status: 'ok' } }) });
  const m = msg('kernel_info_request');
  d.dispatch('shell', m);
  await tick();
  expect(events).toEqual([`busy:${m.header.msg_id}`, `shell:kernel_info_reply:${m.header.msg_id}`, `idle:${m.header.msg_id}`]);
});

test('shell runs one request at a time; control does not wait for it', async () => {
  let release!: () => void;
  const { d, events } = setup({
    execute_request: () => new Promise((r) => (release = () => r({ content: { status: 'ok' } }))),
    kernel_info_request: () => ({ content: { status: 'ok' } }),
  });
  const slow = msg('execute_request');
  const queued = msg('kernel_info_request');
  const control = msg('kernel_info_request');
  d.dispatch('shell', slow);
  d.dispatch('shell', queued);
  d.dispatch('control', control);
  await tick();
  expect(events).toContain(`control:kernel_info_reply:${control.header.msg_id}`);
  expect(events.some((e) => e.includes(queued.header.msg_id))).toBe(false);
  release();
  await tick();
  expect(events.indexOf(`shell:execute_reply:${slow.header.msg_id}`)).toBeLessThan(events.indexOf(`shell:kernel_info_reply:${queued.header.msg_id}`));
});

test('an error with stop_on_error aborts the executes queued behind it', async () => {
  const { d, replies } = setup({
    execute_request: async (m) => {
      await tick();
      return { content: { status: m.content.code === 'fail' ? 'error' : 'ok' } };
    },
  });
  const a = msg('execute_request', { code: 'fail' });
  const b = msg('execute_request', { code: 'ok' });
  const c = msg('execute_request', { code: 'ok', stop_on_error: false });
  for (const m of [a, b, c]) d.dispatch('shell', m);
  await tick();
  await tick();
  await tick();
  expect(replies.map((r) => (r.content as { status: string }).status)).toEqual(['error', 'aborted', 'aborted']);
  const later = msg('execute_request', { code: 'ok' });
  d.dispatch('shell', later);
  await tick();
  await tick();
  expect((replies[3].content as { status: string }).status).toBe('ok');
});

test('stop_on_error false does not abort', async () => {
  const { d, replies } = setup({ execute_request: async (m) => ({ content: { status: m.content.code === 'fail' ? 'error' : 'ok' } }) });
  d.dispatch('shell', msg('execute_request', { code: 'fail', stop_on_error: false }));
  d.dispatch('shell', msg('execute_request', { code: 'ok' }));
  await tick();
  expect(replies.map((r) => (r.content as { status: string }).status)).toEqual(['error', 'ok']);
});

test('unknown requests get an error reply; a throwing handler gets an error reply, and both still go idle', async () => {
  const { d, events, replies } = setup({ boom_request: () => { throw new Error('bad'); } });
  const u = msg('nope_request');
  const b = msg('boom_request');
  const silent = msg('not_a_request_kind');
  d.dispatch('shell', u);
  d.dispatch('shell', b);
  d.dispatch('shell', silent);
  await tick();
  expect(replies.map((r) => [r.msg_type, (r.content as { status: string }).status])).toEqual([['nope_reply', 'error'], ['boom_reply', 'error']]);
  expect(events.filter((e) => e.startsWith('idle')).length).toBe(3);
});

test('msg_types named after Object.prototype members are unknown, not called', async () => {
  const { d, replies } = setup({});
  for (const t of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) d.dispatch('shell', msg(t));
  d.dispatch('shell', msg('constructor_request'));
  await tick();
  expect(replies.map((r) => r.msg_type)).toEqual(['constructor_reply']);
  expect((replies[0].content as { ename: string }).ename).toBe('UnknownMessageType');
});
