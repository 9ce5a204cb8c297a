// DORA's time to restore from a service's audit records: which successful deploy or rollback ends a failure, and
// how long that failure lasted; a canary that rolled itself back was restored then, and leaves nothing open.
import type { DeployRecord } from '../../magics/docker/deploy/audit';
import { restoredAfterMs } from '../../magics/docker/deploy/audit';

const record = (kind: string, outcome: string, at: string): DeployRecord => ({
  service: 'web', deployId: at, kind, image: 'web:x', imageId: 'sha256:1', previousImage: '', by: 'ops@host', at, outcome, durationMs: 1000, cutoverGapMs: undefined,
});
const now = Date.parse('2026-11-25T12:00:00Z');

test('a deploy after failed deploys restores the service; the failure began with the first of them', () => {
  const earlier = [
    record('deploy', 'failed: the new version never got healthy', '2026-11-25T11:50:00Z'),
    record('deploy', 'failed at cutover: the new version stopped answering', '2026-11-25T11:40:00Z'),
    record('deploy', 'deployed', '2026-11-25T10:00:00Z'),
    record('deploy', 'failed: older failure, already restored', '2026-11-25T09:00:00Z'),
  ];
  expect(restoredAfterMs(earlier, 'deploy', now)).toBe(20 * 60_000);
});

test('a deploy after a successful one restores nothing; nor does a first deploy', () => {
  expect(restoredAfterMs([record('deploy', 'deployed', '2026-11-25T11:00:00Z')], 'deploy', now)).toBeUndefined();
  expect(restoredAfterMs([], 'deploy', now)).toBeUndefined();
  expect(restoredAfterMs([record('rollback', 'rolled back', '2026-11-25T11:00:00Z')], 'deploy', now)).toBeUndefined();
});

test('a rollback restores from the newest successful deploy, which it undoes (swarm deploys count too)', () => {
  const earlier = [
    record('deploy', 'failed: never healthy', '2026-11-25T11:59:00Z'),
    record('deploy (swarm)', 'deployed', '2026-11-25T11:30:00Z'),
    record('deploy', 'deployed', '2026-11-25T10:00:00Z'),
  ];
  expect(restoredAfterMs(earlier, 'rollback', now)).toBe(30 * 60_000);
  expect(restoredAfterMs([], 'rollback', now)).toBeUndefined();
});

test('an unreadable timestamp restores nothing rather than counting a wrong duration', () => {
  expect(restoredAfterMs([record('deploy', 'failed: x', 'not a date')], 'deploy', now)).toBeUndefined();
});

describe('a canary that rolled itself back: a failed change restored automatically', () => {
  const restoredCanary = (at: string): DeployRecord => ({ ...record('deploy (canary)', 'failed: errors was 0.5, not < 0.01 at step 1 of 2 (20%); rolled back: ...', at), restoredMs: 9_000 });

  test('was counted restored when it rolled back: a later success restores nothing more', () => {
    const earlier = [restoredCanary('2026-11-25T11:50:00Z'), record('deploy', 'deployed', '2026-11-25T10:00:00Z')];
    expect(restoredAfterMs(earlier, 'deploy', now)).toBeUndefined();
  });

  test('neither closes an earlier open failure: a fix after both restores from the first failed deploy', () => {
    const earlier = [restoredCanary('2026-11-25T11:50:00Z'), record('deploy', 'failed: never healthy', '2026-11-25T11:30:00Z'), record('deploy', 'deployed', '2026-11-25T10:00:00Z')];
    expect(restoredAfterMs(earlier, 'deploy', now)).toBe(30 * 60_000);
  });

  test('is not a successful deploy for a rollback to undo', () => {
    const earlier = [restoredCanary('2026-11-25T11:50:00Z'), record('deploy', 'deployed', '2026-11-25T11:00:00Z')];
    expect(restoredAfterMs(earlier, 'rollback', now)).toBe(60 * 60_000);
  });

  test('a failed canary without restoredMs (it never got a request) is a failed deploy like any other', () => {
    const earlier = [record('deploy (canary)', 'failed: interrupted before step 1 of 2 (20%); rolled back: ...', '2026-11-25T11:50:00Z')];
    expect(restoredAfterMs(earlier, 'deploy', now)).toBe(10 * 60_000);
  });
});
