// Tables for magic output: one HTML table (every cell escaped) and the same table as aligned text, so a table reads
// in every frontend and in a saved notebook's text form.
import { escapeHtml } from '../../kernel/io/html';

export interface Column<Row> {
  header: string;
  value: (row: Row) => string;
}

/** An HTML table (every cell escaped) and the same table as aligned text. */
export function tableBundle<Row>(className: string, columns: readonly Column<Row>[], rows: readonly Row[]): { 'text/plain': string; 'text/html': string } {
  const cells = rows.map((row) => columns.map((c) => c.value(row)));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i].length)));
  const textLine = (values: string[]) => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]))).join('  ').trimEnd();
  const text = [textLine(columns.map((c) => c.header)), ...cells.map(textLine)].join('\n');
  const head = `<thead><tr>${columns.map((c) => `<th style="text-align:left">${escapeHtml(c.header)}</th>`).join('')}</tr></thead>`;
  const body = `<tbody>${cells.map((r) => `<tr>${r.map((v) => `<td style="text-align:left">${escapeHtml(v)}</td>`).join('')}</tr>`).join('')}</tbody>`;
  return { 'text/plain': text, 'text/html': `<table class="${escapeHtml(className)}">${head}${body}</table>` };
}
