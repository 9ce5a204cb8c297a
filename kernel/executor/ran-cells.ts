// The cells that ran in this kernel, by the filename their code ran under (`<cell N>`), newest last: tracebacks
// map positions of any earlier cell's frames with them, and inspection finds JSDoc written in earlier cells.
import type { CellEdits } from './cell-positions';

const ranCells = new Map<string, CellEdits>();
const RAN_CELLS_KEPT = 1000;

export function rememberCell(filename: string, cell: CellEdits): void {
  ranCells.delete(filename);
  ranCells.set(filename, cell);
  if (ranCells.size > RAN_CELLS_KEPT) ranCells.delete(ranCells.keys().next().value as string);
}

export function ranCell(filename: string): CellEdits | undefined {
  return ranCells.get(filename);
}

/** The TypeScript sources of the cells that ran, newest first. */
export function* ranSourcesNewestFirst(): Generator<string> {
  const cells = [...ranCells.values()];
  for (let i = cells.length - 1; i >= 0; i--) yield cells[i].source;
}
