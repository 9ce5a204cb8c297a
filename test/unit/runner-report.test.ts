// Unit tests of `opsbook run --html`: markdown rendered (raw HTML kept for papermill's banner), code escaped with
// In [n], each output in its richest form exactly once, ANSI colours as spans, and nothing fetched from the network.
import { ansiToHtml, renderBundle, renderReport } from '../../kernel/runner/html-report';
import { addErrorMarkers, ensurePapermillMetadata, Notebook, notebookPapermill, parseNotebook, startRun } from '../../kernel/runner/notebook';

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

function sample(): Notebook {
  const nb = parseNotebook(
    JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [
        { cell_type: 'markdown', id: 'm', metadata: {}, source: '# Deploy *api*\n\n<div class="raw">kept</div>' },
        { cell_type: 'code', id: 'a', metadata: {}, source: 'if (a < b && c > d) "x"', outputs: [] },
        { cell_type: 'code', id: 'b', metadata: {}, source: 'pending()', outputs: [] },
      ],
    }),
    'sample',
  );
  ensurePapermillMetadata(nb, '0.0.0');
  startRun(nb, { input: '/x/deploy.ipynb', output: '/x/out.ipynb' }, '2024-01-01T00:00:00.000Z');
  const [, a] = nb.cells;
  a.execution_count = 4;
  a.metadata.papermill = { ...(a.metadata.papermill as object), status: 'failed' };
  a.outputs = [
    { output_type: 'stream', name: 'stdout', text: 'progress 10%\rprogress 100%\n<tag>\n' },
    { output_type: 'display_data', data: { 'text/html': '<table><tr><td>chart</td></tr></table>', 'application/vnd.plotly.v1+json': { data: [] }, 'text/plain': 'chart summary' }, metadata: {} },
    { output_type: 'display_data', data: { 'image/png': PNG, 'text/plain': '<img>' }, metadata: {} },
    { output_type: 'execute_result', execution_count: 4, data: { 'application/json': { a: [1, '<b>'] }, 'text/plain': '{…}' }, metadata: {} },
    { output_type: 'error', ename: 'TypeError', evalue: 'bad', traceback: ['\u001b[31;1mTypeError\u001b[0m: bad <x>', '    at <cell 4>:1:1'] },
  ];
  addErrorMarkers(nb, a);
  notebookPapermill(nb).exception = true;
  return nb;
}

test('the report renders markdown, escapes code, and shows each output in its richest form once', () => {
  const html = renderReport(sample(), 'deploy');
  expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
  expect(html).toContain('<title>deploy</title>');
  expect(html).toContain('<h1>Deploy <em>api</em></h1>');
  expect(html).toContain('<div class="raw">kept</div>');
  expect(html).toContain('In [4]:');
  expect(html).toContain('if (a &lt; b &amp;&amp; c &gt; d) &quot;x&quot;');
  expect(html).toContain('<pre class="stream stdout">progress 100%\n&lt;tag&gt;\n</pre>');
  expect(html).toContain('<table><tr><td>chart</td></tr></table>');
  expect(html).not.toContain('chart summary');
  expect(html).toContain(`src="data:image/png;base64,${PNG}"`);
  expect(html).toContain('Out [4]:');
  expect(html).toContain('&quot;&lt;b&gt;&quot;');
  expect(html).toContain('<span class="ansi-red-fg ansi-bold">TypeError</span>: bad &lt;x&gt;');
  // papermill's banner links to the anchor before the failed cell
  expect(html).toContain('<a href="#papermill-error-cell">In [4]</a>');
  expect(html).toContain('id="papermill-error-cell"');
  expect(html.indexOf('id="papermill-error-cell"')).toBeLessThan(html.indexOf('if (a &lt; b'));
  expect(html).toContain('status-pending');
  expect(html).toContain('not run');
  expect(html).toContain('<span class="failed">failed</span>');
  // self-contained: no external script, stylesheet or image
  expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=["']?(https?:)?\/\//i);
});

test('bundles fall back from rich to plain, and unknown kinds are named', () => {
  expect(renderBundle({ 'text/markdown': '**b**', 'text/plain': 'b' })).toBe('<div class="markdown"><p><strong>b</strong></p>\n</div>');
  expect(renderBundle({ 'image/svg+xml': '<svg></svg>', 'image/png': PNG })).toBe('<div class="svg"><svg></svg></div>');
  expect(renderBundle({ 'text/plain': 'a < b' })).toBe('<pre>a &lt; b</pre>');
  expect(renderBundle({ 'application/x-custom': 1 })).toContain('application/x-custom');
});

test('ANSI escapes become spans or go away; text is always escaped', () => {
  expect(ansiToHtml('\u001b[32mok\u001b[39m <done>')).toBe('<span class="ansi-green-fg">ok</span> &lt;done&gt;');
  expect(ansiToHtml('\u001b[2K\u001b[1Aplain')).toBe('plain');
  expect(ansiToHtml('\u001b[38;5;196mred256\u001b[0m')).toBe('red256');
  expect(ansiToHtml('\u001b[1;94mbold blue')).toBe('<span class="ansi-bright-blue-fg ansi-bold">bold blue</span>');
});
