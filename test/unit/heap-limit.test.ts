// Unit tests of the cell thread's heap limit setting (kernel/executor/heap-limit.ts): a quarter of memory by
// default, OPSBOOK_CELL_HEAP_MB as MB or a share, and settings it cannot use named in a warning.
import { DEFAULT_SHARE, MIN_HEAP_MB, availableMemoryBytes, cellHeapLimit } from '../../kernel/executor/heap-limit';
import * as os from 'node:os';

const GIB = 1024 * 1024 * 1024;

test('by default a quarter of the memory, never below the floor', () => {
  expect(DEFAULT_SHARE).toBe(0.25);
  expect(cellHeapLimit(undefined, 16 * GIB)).toEqual({ mb: 4096 });
  expect(cellHeapLimit('', 8 * GIB)).toEqual({ mb: 2048 });
  expect(cellHeapLimit(undefined, 128 * 1024 * 1024)).toEqual({ mb: MIN_HEAP_MB });
});

test('a number of MB or a share of memory', () => {
  expect(cellHeapLimit('512', 16 * GIB)).toEqual({ mb: 512 });
  expect(cellHeapLimit(' 1536 ', 16 * GIB)).toEqual({ mb: 1536 });
  expect(cellHeapLimit('50%', 16 * GIB)).toEqual({ mb: 8192 });
  expect(cellHeapLimit('12.5%', 16 * GIB)).toEqual({ mb: 2048 });
});

test('a setting it cannot use falls back with a warning that names it', () => {
  for (const bad of ['lots', '-5', '0%', '150%', '2GB']) {
    const limit = cellHeapLimit(bad, 16 * GIB);
    expect(limit.mb).toBe(4096);
    expect(limit.warning).toContain(`OPSBOOK_CELL_HEAP_MB="${bad}"`);
  }
  const tiny = cellHeapLimit('16', 16 * GIB);
  expect(tiny.mb).toBe(MIN_HEAP_MB);
  expect(tiny.warning).toMatch(/below the 64 MB/);
});

test('the memory counted is the machine\'s, or a lower cgroup limit', () => {
  const available = availableMemoryBytes();
  expect(available).toBeGreaterThan(0);
  expect(available).toBeLessThanOrEqual(os.totalmem());
});
