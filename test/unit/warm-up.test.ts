// The cell thread's warm-up sample must be a valid cell: a sample that fails to rewrite would warm nothing
// (the warm-up swallows errors, since it is an optimisation only).
import { sampleCell } from '../../kernel/executor/cell-thread/warm-up';
import { rewriteCell } from '../../kernel/executor/cell-thread/cell-rewrite';

test('the warm-up sample rewrites without error, differs per pass, and is a few hundred lines of TypeScript', () => {
  const a = sampleCell(0);
  const b = sampleCell(1);
  expect(a).not.toBe(b);
  expect(a.split('\n').length).toBeGreaterThan(50);
  const cell = rewriteCell(a);
  expect(cell.async).toBe(true);
  expect(cell.code).not.toMatch(/\binterface\b|: number/);
});
