// Unit tests of `opsbook run`'s notebook model and outputs: reading nbformat 4 (line lists joined, ids added),
// writing like nbformat (sorted keys, line lists) atomically, papermill's metadata reset and error banner cells,
// and nbclient's output rules: stream merging, display ids across cells, clear_output with and without wait.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SetupError } from '../../kernel/runner/errors';
import {
  Cell,
  ERROR_MARKER_TAG,
  addErrorMarkers,
  cellPapermill,
  defaultOutputPath,
  ensurePapermillMetadata,
  notebookPapermill,
  parseNotebook,
  readNotebook,
  removeErrorMarkers,
  serializeNotebook,
  startRun,
  writeNotebook,
} from '../../kernel/runner/notebook';
import { OutputRecorder } from '../../kernel/runner/outputs';

const SAMPLE = {
  nbformat: 4,
  nbformat_minor: 4,
  metadata: { kernelspec: { name: 'opsbook' } },
  cells: [
    { cell_type: 'markdown', metadata: {}, source: ['# Title\n', 'text'] },
    {
      cell_type: 'code',
      metadata: { tags: ['x'] },
      execution_count: 3,
      source: ['a\n', 'b'],
      outputs: [
        { output_type: 'stream', name: 'stdout', text: ['1\n', '2\n'] },
        { output_type: 'display_data', metadata: {}, data: { 'text/html': ['<b>\n', '</b>'], 'application/json': { a: ['x'] } } },
      ],
    },
  ],
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'opsbook-runner-unit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('a notebook reads with line lists joined and ids added, and writes back like nbformat', () => {
  const nb = parseNotebook(JSON.stringify(SAMPLE), 'sample');
  expect(nb.nbformat_minor).toBe(5);
  expect(nb.cells.map((c) => c.id)).toEqual([expect.stringMatching(/^[0-9a-f]{8}$/), expect.stringMatching(/^[0-9a-f]{8}$/)]);
  expect(nb.cells[1].source).toBe('a\nb');
  expect(nb.cells[1].outputs).toEqual([
    { output_type: 'stream', name: 'stdout', text: '1\n2\n' },
    { output_type: 'display_data', metadata: {}, data: { 'text/html': '<b>\n</b>', 'application/json': { a: ['x'] } } },
  ]);
  const text = serializeNotebook(nb);
  expect(text.endsWith('}\n')).toBe(true);
  const disk = JSON.parse(text);
  expect(Object.keys(disk)).toEqual(['cells', 'metadata', 'nbformat', 'nbformat_minor']);
  expect(disk.cells[1].source).toEqual(['a\n', 'b']);
  expect(disk.cells[1].outputs[0].text).toEqual(['1\n', '2\n']);
  expect(disk.cells[1].outputs[1].data['text/html']).toEqual(['<b>\n', '</b>']);
  expect(disk.cells[1].outputs[1].data['application/json']).toEqual({ a: ['x'] });
  expect(parseNotebook(text, 'again')).toEqual(nb);
});

test('notebooks that are not nbformat 4 are refused with one clear line', () => {
  expect(() => parseNotebook('{', 'x.ipynb')).toThrow(/x.ipynb is not a notebook/);
  expect(() => parseNotebook('{"nbformat": 3, "cells": []}', 'x.ipynb')).toThrow(/nbformat 3/);
  expect(() => readNotebook(path.join(dir, 'missing.ipynb'))).toThrow(SetupError);
  expect(() => readNotebook(path.join(dir, 'missing.ipynb'))).toThrow(/no such file/);
});

test('writes are atomic: the file is replaced whole and no temporary file is left', () => {
  const file = path.join(dir, 'out.ipynb');
  writeFileSync(file, 'old');
  const nb = parseNotebook(JSON.stringify(SAMPLE), 'sample');
  writeNotebook(file, nb);
  expect(parseNotebook(readFileSync(file, 'utf8'), file)).toEqual(nb);
  expect(readdirSync(dir)).toEqual(['out.ipynb']);
  expect(() => writeNotebook(path.join(dir, 'no-such-folder', 'out.ipynb'), nb)).toThrow(/ENOENT/);
  expect(readdirSync(dir)).toEqual(['out.ipynb']);
});

test('the default output is <name>.executed.ipynb in the current folder', () => {
  expect(defaultOutputPath('notebooks/deploy.ipynb', '/work')).toBe('/work/deploy.executed.ipynb');
  expect(defaultOutputPath('/a/b/run.book.IPYNB', '/tmp')).toBe('/tmp/run.book.executed.ipynb');
});

test('a run starts like papermill\'s notebook_start and a failure adds the banner and the anchor', () => {
  const nb = parseNotebook(JSON.stringify(SAMPLE), 'sample');
  ensurePapermillMetadata(nb, '9.9.9');
  startRun(nb, { input: '/in.ipynb', output: '/out.ipynb' }, '2024-01-01T00:00:00.000Z');
  expect(notebookPapermill(nb)).toEqual({
    default_parameters: {},
    parameters: {},
    environment_variables: {},
    version: '9.9.9',
    input_path: '/in.ipynb',
    output_path: '/out.ipynb',
    start_time: '2024-01-01T00:00:00.000Z',
    end_time: null,
    duration: null,
    exception: null,
  });
  for (const cell of nb.cells) expect(cellPapermill(cell)).toEqual({ exception: null, start_time: null, end_time: null, duration: null, status: 'pending' });
  expect(nb.cells[1].outputs).toEqual([]);
  expect(nb.cells[1].execution_count).toBeNull();
  expect(nb.cells[0].metadata.tags).toEqual([]);

  nb.cells[1].execution_count = 7;
  addErrorMarkers(nb, nb.cells[1]);
  expect(nb.cells.map((c) => c.cell_type)).toEqual(['markdown', 'markdown', 'markdown', 'code']);
  expect(nb.cells[0].metadata.tags).toEqual([ERROR_MARKER_TAG]);
  expect(nb.cells[0].source).toMatch(/^<span .*<a href="#papermill-error-cell">In \[7\]<\/a>.*<\/span>$/);
  expect(nb.cells[2].metadata.tags).toEqual([ERROR_MARKER_TAG]);
  expect(nb.cells[2].source).toContain('id="papermill-error-cell"');
  expect(nb.cells[2].source).toContain('opsbook run encountered an exception here');
  expect(nb.cells[2].source).not.toContain('papermill encountered');

  removeErrorMarkers(nb);
  expect(nb.cells.map((c) => c.cell_type)).toEqual(['markdown', 'code']);
});

function cell(): Cell {
  return { cell_type: 'code', source: '', metadata: {}, outputs: [] };
}

test('outputs follow nbclient: streams merge, display ids update any cell, clear_output waits when asked', () => {
  const rec = new OutputRecorder();
  const a = cell();
  const b = cell();
  rec.begin(a);
  rec.apply(a, 'stream', { name: 'stdout', text: 'one\n' });
  rec.apply(a, 'stream', { name: 'stdout', text: 'two\n' });
  rec.apply(a, 'stream', { name: 'stderr', text: 'err\n' });
  rec.apply(a, 'stream', { name: 'stdout', text: 'three\n' });
  rec.apply(a, 'display_data', { data: { 'text/plain': 'step 1' }, metadata: {}, transient: { display_id: 'p' } });
  rec.apply(a, 'execute_result', { data: { 'text/plain': '42' }, metadata: {}, execution_count: 1 });
  rec.apply(a, 'status', { execution_state: 'idle' });
  expect(a.outputs).toEqual([
    { output_type: 'stream', name: 'stdout', text: 'one\ntwo\n' },
    { output_type: 'stream', name: 'stderr', text: 'err\n' },
    { output_type: 'stream', name: 'stdout', text: 'three\n' },
    { output_type: 'display_data', data: { 'text/plain': 'step 1' }, metadata: {} },
    { output_type: 'execute_result', data: { 'text/plain': '42' }, metadata: {}, execution_count: 1 },
  ]);

  rec.begin(b);
  rec.apply(b, 'update_display_data', { data: { 'text/plain': 'done' }, metadata: { m: 1 }, transient: { display_id: 'p' } });
  expect(b.outputs).toEqual([]);
  expect(a.outputs?.[3]).toEqual({ output_type: 'display_data', data: { 'text/plain': 'done' }, metadata: { m: 1 } });
  // a new output with the same display id updates the earlier ones too, and is itself kept
  rec.apply(b, 'display_data', { data: { 'text/plain': 'again' }, metadata: {}, transient: { display_id: 'p' } });
  expect(a.outputs?.[3]).toMatchObject({ data: { 'text/plain': 'again' } });
  expect(b.outputs).toEqual([{ output_type: 'display_data', data: { 'text/plain': 'again' }, metadata: {} }]);
  expect(JSON.stringify([a.outputs, b.outputs])).not.toContain('transient');

  rec.apply(b, 'stream', { name: 'stdout', text: 'old\n' });
  rec.apply(b, 'clear_output', { wait: true });
  expect(b.outputs).toHaveLength(2);
  rec.apply(b, 'stream', { name: 'stdout', text: 'new\n' });
  expect(b.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: 'new\n' }]);
  rec.apply(b, 'clear_output', { wait: false });
  expect(b.outputs).toEqual([]);
  // b's cleared display no longer takes updates; a's still does
  rec.apply(b, 'update_display_data', { data: { 'text/plain': 'final' }, metadata: {}, transient: { display_id: 'p' } });
  expect(a.outputs?.[3]).toMatchObject({ data: { 'text/plain': 'final' } });
  rec.apply(b, 'error', { ename: 'E', evalue: 'v', traceback: ['E: v'] });
  expect(b.outputs).toEqual([{ output_type: 'error', ename: 'E', evalue: 'v', traceback: ['E: v'] }]);
});
