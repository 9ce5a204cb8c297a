// Comms: comm_info, frontend- and kernel-opened comms, comm_msg and comm_close in both directions, unknown targets.
import { startTestKernel, TestKernel } from '../support/kernel-client';
import type { Message } from '../../kernel/protocol/messages';
import { randomUUID } from 'node:crypto';

let k: TestKernel;
beforeAll(async () => {
  k = await startTestKernel();
  const r = await k.client.execute(
    'globalThis.closedWith = []; comms.registerTarget("t", (comm, data) => { comm.onMsg(d => comm.send({echo: d})); comm.onClose(d => closedWith.push(d)); globalThis.lastOpenData = data; globalThis.lastComm = comm })',
  );
  expect(r.reply.content.status).toBe('ok');
});
afterAll(async () => {
  await k.stop();
});

/** Sends a message that has no reply (comm_*) and waits for its idle; returns the IOPub messages it caused. */
async function send(msgType: string, content: Record<string, unknown>): Promise<Message[]> {
  const msgId = await k.client.sendOn(k.client.shell, msgType, content);
  await k.client.waitIdle(msgId, 5000);
  const mine = k.client.iopubFor(msgId);
  expect(mine.filter((m) => m.header.msg_type === 'status').map((m) => m.content.execution_state)).toEqual(['busy', 'idle']);
  expect(k.client.repliesTo(msgId)).toEqual([]); // comm messages have no reply
  return mine.filter((m) => m.header.msg_type !== 'status');
}

async function commInfo(targetName?: string): Promise<Record<string, { target_name: string }>> {
  const r = await k.client.request('comm_info_request', targetName === undefined ? {} : { target_name: targetName });
  expect(r.header.msg_type).toBe('comm_info_reply');
  expect(r.content.status).toBe('ok');
  return r.content.comms as Record<string, { target_name: string }>;
}

describe('frontend-opened comm', () => {
  const id = randomUUID();

  test('comm_open to a registered target reaches its handler and shows in comm_info', async () => {
    const out = await send('comm_open', { comm_id: id, target_name: 't', data: { hello: 'kernel' } });
    expect(out).toEqual([]); // a successful open is silent
    const r = await k.client.execute('[lastOpenData, lastComm.id, lastComm.targetName]');
    expect(r.outputs[1].content.data).toEqual({ 'text/plain': `[ { hello: 'kernel' }, '${id}', 't' ]` });
    expect(await commInfo()).toEqual(expect.objectContaining({ [id]: { target_name: 't' } }));
  });

  test('comm_msg from the frontend is answered with a comm_msg on IOPub (parent: the frontend message)', async () => {
    const out = await send('comm_msg', { comm_id: id, data: { n: 1 } });
    expect(out.map((m) => m.header.msg_type)).toEqual(['comm_msg']);
    expect(out[0].content).toEqual(expect.objectContaining({ comm_id: id, data: { echo: { n: 1 } } }));
  });

  test('comm_msg from the kernel side (a cell calls comm.send)', async () => {
    const r = await k.client.execute('lastComm.send({from: "cell"})');
    const msgs = r.outputs.filter((m) => m.header.msg_type === 'comm_msg');
    expect(msgs).toHaveLength(1);
    expect(msgs[0].content).toEqual(expect.objectContaining({ comm_id: id, data: { from: 'cell' } }));
  });

  test('comm_close from the frontend runs onClose and removes the comm', async () => {
    const out = await send('comm_close', { comm_id: id, data: { bye: true } });
    expect(out).toEqual([]);
    const r = await k.client.execute('closedWith');
    expect((r.outputs[1].content.data as Record<string, unknown>)['text/plain']).toBe('[ { bye: true } ]');
    expect(Object.keys(await commInfo())).not.toContain(id);
  });

  test('comm_msg to a closed comm does not break the kernel', async () => {
    await send('comm_msg', { comm_id: id, data: { late: true } });
    const r = await k.client.execute('"alive"');
    expect(r.reply.content.status).toBe('ok');
  });
});

test('comm_open to an unknown target gets a comm_close back', async () => {
  const id = randomUUID();
  const out = await send('comm_open', { comm_id: id, target_name: 'no-such-target', data: {} });
  const closes = out.filter((m) => m.header.msg_type === 'comm_close');
  expect(closes).toHaveLength(1);
  expect(closes[0].content).toEqual(expect.objectContaining({ comm_id: id }));
  expect(Object.keys(await commInfo())).not.toContain(id);
});

describe('kernel-opened comm', () => {
  let id = '';

  test('comms.open("x", {a: 1}) arrives as comm_open on IOPub', async () => {
    const r = await k.client.execute('const kc = comms.open("x", {a: 1}); kc.onMsg(d => kc.send({got: d})); kc.id');
    const opens = r.outputs.filter((m) => m.header.msg_type === 'comm_open');
    expect(opens).toHaveLength(1);
    const c = opens[0].content;
    expect(c.target_name).toBe('x');
    expect(c.data).toEqual({ a: 1 });
    id = String(c.comm_id);
    expect(id.length).toBeGreaterThan(0);
    expect(r.outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data).toEqual({ 'text/plain': `'${id}'` });
  });

  test('comm_info lists it, with and without a target_name filter', async () => {
    expect((await commInfo())[id]).toEqual({ target_name: 'x' });
    expect(await commInfo('x')).toEqual({ [id]: { target_name: 'x' } });
    expect(await commInfo('other-target')).toEqual({});
  });

  test('comm_msg from the frontend reaches the kernel-opened comm', async () => {
    const out = await send('comm_msg', { comm_id: id, data: { q: 2 } });
    expect(out.map((m) => m.header.msg_type)).toEqual(['comm_msg']);
    expect(out[0].content).toEqual(expect.objectContaining({ comm_id: id, data: { got: { q: 2 } } }));
  });

  test('comm.close() in a cell sends comm_close and removes it', async () => {
    const r = await k.client.execute('kc.close({done: true})');
    const closes = r.outputs.filter((m) => m.header.msg_type === 'comm_close');
    expect(closes).toHaveLength(1);
    expect(closes[0].content).toEqual(expect.objectContaining({ comm_id: id, data: { done: true } }));
    expect(await commInfo('x')).toEqual({});
  });
});
