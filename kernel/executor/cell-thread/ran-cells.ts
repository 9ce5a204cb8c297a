// The cells that ran in this kernel, by the filename their code ran under (`<cell N>`), newest last: tracebacks
// map positions of any earlier cell's frames with them, and inspection finds JSDoc written in earlier cells.
import { CellEdits, originalPosition } from './cell-positions';

const ranCells = new Map<string, CellEdits>();
const RAN_CELLS_KEPT = 1000;

export function rememberCell(filename: string, cell: CellEdits): void {
  ranCells.delete(filename);
  ranCells.set(filename, cell);
  if (ranCells.size > RAN_CELLS_KEPT) ranCells.delete(ranCells.keys().next().value as string);
}

/** A stack frame line with every `<cell N>:line:column` it names mapped to that cell's TypeScript. */
export function mapCellFrame(frame: string): string {
  return frame.replace(/(<cell \d+>):(\d+):(\d+)/g, (whole, filename: string, line: string, column: string) => {
    const cell = ranCells.get(filename);
    if (!cell) return whole;
    const at = originalPosition(cell, Number(line), Number(column));
    return `${filename}:${at.line}:${at.column}`;
  });
}

/** The TypeScript sources of the cells that ran, newest first. */
export function* ranSourcesNewestFirst(): Generator<string> {
  const cells = [...ranCells.values()];
  for (let i = cells.length - 1; i >= 0; i--) yield cells[i].source;
}
