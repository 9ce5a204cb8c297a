// DORA's time to restore from a service's audit records: which successful deploy or rollback ends a failure, and
// how long that failure lasted.
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
