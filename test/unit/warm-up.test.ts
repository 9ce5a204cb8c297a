// The cell thread's warm-up: its samples must be valid (a sample that fails to rewrite would warm nothing, since
// the warm-up swallows errors), and its slices must give way to requests. The order tests use a real event loop
// and a real MessageChannel (the cell thread's requests arrive through one) but their own clock for the quiet
// time, so they check the order of events, never how long anything took.
import { MessageChannel } from 'node:worker_threads';
import { sampleCell, warmUpSlices } from '../../kernel/executor/cell-thread/warm-up';
import { rewriteCell } from '../../kernel/executor/cell-thread/cell-rewrite';
import { IdleSlices } from '../../kernel/executor/cell-thread/idle-slices';

test('the warm-up sample rewrites without error, differs per pass, and is a few hundred lines of TypeScript', () => {
  const a = sampleCell(0);
  const b = sampleCell(1);
  expect(a).not.toBe(b);
  expect(a.split('\n').length).toBeGreaterThan(50);
  const cell = rewriteCell(a);
  expect(cell.async).toBe(true);
  expect(cell.code).not.toMatch(/\binterface\b|: number/);
});

test('every warm-up slice runs without error, and there are many small ones', () => {
  const slices = [...warmUpSlices()];
  expect(slices.length).toBeGreaterThan(100);
  for (const slice of slices) expect(slice).not.toThrow();
});

/** Slices that record their index into `events`; `during` runs inside the slice of that index. */
function recordingSlices(count: number, events: string[], during: Record<number, () => void> = {}): Array<() => void> {
  return Array.from({ length: count }, (_, i) => () => {
    events.push(`slice ${i}`);
    during[i]?.();
  });
}

/** Starts the slices `make` builds; `afterStart` runs right after start(). Resolves once the last slice ran. */
function whenDone(make: (onDone: () => void) => IdleSlices, afterStart: () => void = () => undefined): Promise<void> {
  return new Promise((resolve) => {
    make(resolve).start();
    afterStart();
  });
}

test('a request that arrives during a slice is taken before the next slice', async () => {
  const events: string[] = [];
  const channel = new MessageChannel();
  let slices: IdleSlices | undefined;
  channel.port1.on('message', () => {
    events.push('request');
    slices?.activity();
  });
  try {
    await whenDone((onDone) => {
      slices = new IdleSlices(recordingSlices(4, events, { 1: () => channel.port2.postMessage('execute') }), { busy: () => false, quietMs: 0, onDone });
      return slices;
    });
  } finally {
    channel.port1.close();
  }
  expect(events).toEqual(['slice 0', 'slice 1', 'request', 'slice 2', 'slice 3']);
});

test('requests sent back to back meet no slice until the thread has been quiet, then the rest runs', async () => {
  const events: string[] = [];
  const channel = new MessageChannel();
  // the slices' timers wait 1 ms for real; whether the thread was quiet is read from `clock` alone
  let clock = 0;
  const quietMs = 1;
  let slices: IdleSlices | undefined;
  let received = 0;
  let running = false;
  channel.port1.on('message', () => {
    // one request at a time, like the dispatcher's queue: busy while it "runs", the next sent once it is answered
    slices?.activity();
    running = true;
    events.push(`request ${++received}`);
    setImmediate(() => {
      running = false;
      slices?.activity();
      if (received < 5) setTimeout(() => channel.port2.postMessage('execute'), 5);
      else clock += quietMs; // the client stops: from now on the thread is quiet
    });
  });
  try {
    await whenDone(
      (onDone) => (slices = new IdleSlices(recordingSlices(5, events, { 1: () => channel.port2.postMessage('execute') }), { busy: () => running, quietMs, now: () => clock, onDone })),
      () => (clock += quietMs), // quiet since start
    );
  } finally {
    channel.port1.close();
  }
  expect(events).toEqual(['slice 0', 'slice 1', 'request 1', 'request 2', 'request 3', 'request 4', 'request 5', 'slice 2', 'slice 3', 'slice 4']);
});

test('no slice runs while a request is being served, however quiet the thread has been', async () => {
  const events: string[] = [];
  let busy = true;
  let clock = 0;
  await whenDone((onDone) => {
    const slices = new IdleSlices(recordingSlices(2, events), { busy: () => busy, quietMs: 1, now: () => clock, onDone });
    // the served request ends only after the slices' gate has been checked some times
    let checks = 0;
    const end = setInterval(() => {
      if (++checks < 5) return;
      clearInterval(end);
      events.push('request done');
      busy = false;
      slices.activity();
      clock += 1_000_000;
    }, 1);
    return slices;
  }, () => (clock = 1_000_000));
  expect(events).toEqual(['request done', 'slice 0', 'slice 1']);
});

test('requests the protocol thread received (kernel_info, which it answers itself) count as activity too', async () => {
  // the slices' timers wait for real; whether the kernel was quiet long enough is read from `clock` alone
  const events: string[] = [];
  let clock = 0;
  let received = 0;
  let asked = 0;
  const requestsReceived = () => {
    asked++;
    if (asked >= 2 && asked <= 4) events.push(`request ${++received}`); // they arrive while the slices wait
    else if (asked === 5) clock += 5; // then the kernel stays quiet
    return received;
  };
  await whenDone(
    (onDone) => new IdleSlices(recordingSlices(2, events), { busy: () => false, quietMs: 5, now: () => clock, requestsReceived, onDone }),
    () => (clock = 10), // this thread alone has been quiet for long enough
  );
  expect(events).toEqual(['request 1', 'request 2', 'request 3', 'slice 0', 'slice 1']);
});
