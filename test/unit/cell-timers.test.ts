// Unit tests of the registry of timers cells start (kernel/executor/cell-thread/cell-timers.ts): only calls made
// by cell code (a script named `<cell N>`, as the worker names cells) are recorded, per owner; finished timers
// (run or cleared by any path, which the registry learns from Node's own flag) are never counted.
import * as vm from 'node:vm';
import { promisify } from 'node:util';
import { CellTimers, TimerScope, describeTimers } from '../../kernel/executor/cell-thread/cell-timers';
import type { CellIo } from '../../kernel/executor/cell-thread/cell-io';

const ioA = { requestId: 'a' } as unknown as CellIo;
const ioB = { requestId: 'b' } as unknown as CellIo;

/** A scope of its own (never jest's globals), and a way to run code in it as cell N would run. */
function setUp() {
  let owner: CellIo | undefined = ioA;
  const timers = new CellTimers(() => owner);
  const scope: TimerScope & Record<string, unknown> = { setTimeout, setInterval, setImmediate, clearTimeout, clearInterval, clearImmediate, fired: [] as string[] };
  timers.install(scope);
  const context = vm.createContext(scope);
  const cell = (code: string, as: CellIo = ioA, n = 1): unknown => {
    owner = as;
    return vm.runInContext(code, context, { filename: `<cell ${n}>` });
  };
  return { timers, scope, cell, fired: scope.fired as string[] };
}

const nextTurn = () => new Promise((resolve) => setTimeout(resolve, 5));

test('timers started by cell code are stopped before they run, counted by kind', async () => {
  const { timers, cell, fired } = setUp();
  cell('setTimeout(() => fired.push("t"), 1); setInterval(() => fired.push("i"), 1); setImmediate(() => fired.push("m"));');
  expect(timers.stopStartedBy(ioA)).toEqual({ timeout: 1, interval: 1, immediate: 1 });
  await nextTurn();
  await nextTurn();
  expect(fired).toEqual([]);
  expect(timers.stopStartedBy(ioA)).toEqual({ timeout: 0, interval: 0, immediate: 0 });
});

test('timers started by code that is not a cell (kernel, magics, libraries) are never recorded', async () => {
  const { timers, scope, cell } = setUp();
  let ran = false;
  scope.setTimeout(() => (ran = true), 1);
  // a library function called by a cell: the library's frame is the caller, not the cell's
  scope.libraryDelay = (f: () => void) => scope.setTimeout(f, 1);
  cell('libraryDelay(() => {})');
  expect(timers.stopAll().size).toBe(0);
  await nextTurn();
  expect(ran).toBe(true);
});

test('a timer that ran, and timers cleared by object, numeric id or close(), are not counted', async () => {
  const { timers, cell } = setUp();
  cell(`
    setTimeout(() => {}, 0);
    setImmediate(() => {});
    clearInterval(setInterval(() => {}, 1000));
    const byId = setTimeout(() => {}, 1000); clearTimeout(+byId);
    setTimeout(() => {}, 1000).close();
    clearImmediate(setImmediate(() => {}));
  `);
  await nextTurn();
  expect(timers.stopAll().size).toBe(0);
});

test('an interval keeps counting as live while it repeats; a callback that starts a timer is the cell code too', async () => {
  const { timers, cell, fired } = setUp();
  cell('setInterval(() => { fired.push("i"); if (fired.length === 1) setTimeout(() => fired.push("t"), 60000) }, 1)');
  while (fired.length < 2) await nextTurn();
  expect(timers.stopStartedBy(ioA)).toEqual({ timeout: 1, interval: 1, immediate: 0 });
  const seen = fired.length;
  await nextTurn();
  expect(fired.length).toBe(seen);
});

test('stopStartedBy stops one owner\'s timers; stopAll stops the rest, grouped by owner', () => {
  const { timers, cell } = setUp();
  cell('setInterval(() => {}, 1000)', ioA);
  cell('setInterval(() => {}, 1000); setTimeout(() => {}, 1000)', ioB, 2);
  expect(timers.stopStartedBy(ioB)).toEqual({ timeout: 1, interval: 1, immediate: 0 });
  const rest = timers.stopAll();
  expect([...rest.keys()]).toEqual([ioA]);
  expect(rest.get(ioA)).toEqual({ timeout: 0, interval: 1, immediate: 0 });
});

test('the starters keep what callers rely on: util.promisify, arguments, the returned handle', async () => {
  const { scope, cell } = setUp();
  expect(scope.setTimeout.name).toBe('setTimeout');
  await promisify(scope.setTimeout)(1);
  const value = await (cell('new Promise((resolve) => setTimeout(resolve, 1, "arg"))') as Promise<string>);
  expect(value).toBe('arg');
  const handle = cell('setTimeout(() => {}, 1000)') as NodeJS.Timeout;
  expect(typeof handle.refresh).toBe('function');
  clearTimeout(handle);
});

test('a cell sleeping in a loop does not grow the registry without bound', async () => {
  const { timers, cell } = setUp();
  await (cell('(async () => { for (let i = 0; i < 3000; i++) await new Promise((r) => setImmediate(r)) })()') as Promise<void>);
  const size = (timers as unknown as { started: Map<unknown, unknown> }).started.size;
  expect(size).toBeLessThan(1100);
});

test('describeTimers names what was stopped', () => {
  expect(describeTimers({ timeout: 2, interval: 1, immediate: 0 })).toBe('1 interval and 2 timeouts');
  expect(describeTimers({ timeout: 1, interval: 0, immediate: 0 })).toBe('1 timeout');
  expect(describeTimers({ timeout: 1, interval: 3, immediate: 1 })).toBe('3 intervals, 1 timeout and 1 immediate');
  expect(describeTimers({ timeout: 0, interval: 0, immediate: 0 })).toBeUndefined();
});
