// The runbook notebooks as committed: outputs cleared and no execution counts (nothing from a run, so nothing
// secret, is ever saved into the repository), the opsbook kernelspec, cell ids, and a `parameters` cell wherever
// the notebook takes parameters, so papermill and `opsbook run` know where to inject.
import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

const DIR = path.join(__dirname, '..', '..', 'notebooks');
const notebooks = readdirSync(DIR).filter((f) => f.endsWith('.ipynb')).sort();

interface Cell {
  cell_type: string;
  id?: string;
  metadata: { tags?: string[] };
  outputs?: unknown[];
  execution_count?: number | null;
}

const read = (file: string) => JSON.parse(readFileSync(path.join(DIR, file), 'utf8')) as { nbformat: number; nbformat_minor: number; metadata: { kernelspec?: { name?: string } }; cells: Cell[] };

test('the runbooks are there', () => {
  expect(notebooks).toEqual(['canary.ipynb', 'deploy-and-monitor.ipynb', 'dora.ipynb', 'incident-triage.ipynb', 'quickstart.ipynb']);
});

test.each(notebooks)('%s: outputs cleared, no execution counts, opsbook kernelspec, cell ids', (file) => {
  const nb = read(file);
  expect(nb.nbformat).toBe(4);
  expect(nb.nbformat_minor).toBeGreaterThanOrEqual(5);
  expect(nb.metadata.kernelspec?.name).toBe('opsbook');
  const code = nb.cells.filter((c) => c.cell_type === 'code');
  expect(code.length).toBeGreaterThan(0);
  expect(code.filter((c) => (c.outputs ?? []).length > 0 || c.execution_count != null).map((c) => c.id)).toEqual([]);
  const ids = nb.cells.map((c) => c.id);
  expect(ids.every((id) => typeof id === 'string' && id !== '')).toBe(true);
  expect(new Set(ids).size).toBe(ids.length);
});

test.each(['canary.ipynb', 'deploy-and-monitor.ipynb', 'incident-triage.ipynb', 'dora.ipynb'])('%s has one code cell tagged parameters and no injected-parameters cell', (file) => {
  const tagged = (tag: string) => read(file).cells.filter((c) => (c.metadata.tags ?? []).includes(tag));
  expect(tagged('parameters').map((c) => c.cell_type)).toEqual(['code']);
  expect(tagged('injected-parameters')).toEqual([]);
});
