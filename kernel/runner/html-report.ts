// `opsbook run --html report.html`: the executed notebook as one self-contained HTML page. Markdown cells go
// through markdown-it (raw HTML allowed: papermill's banner cells are HTML), code cells show their escaped input
// as In [n], outputs show their richest form (HTML as is, images as data: URIs, JSON pretty, text escaped), and
// ANSI colours in streams and tracebacks become spans. Nothing is loaded from the network: our charts' text/html
// carries plotly.js inline, once per notebook, and this page keeps each output exactly once.
import MarkdownIt from 'markdown-it';
import type { MimeBundle } from '../protocol/messages';
import type { Cell, Notebook, Output } from './notebook';
import { cellPapermill, notebookPapermill, tagsOf } from './notebook';

const md = new MarkdownIt({ html: true, linkify: false });
/** Text as HTML element content, escaped the way the markdown cells are (the runner shares no code with the kernel's). */
const escapeHtml = md.utils.escapeHtml;

const FG = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];

/** Text with ANSI SGR colours (as tracebacks and tools print them) as escaped HTML with spans; other escapes dropped. */
export function ansiToHtml(text: string): string {
  let out = '';
  let fg: string | undefined;
  let bg: string | undefined;
  let bold = false;
  let open = false;
  const openSpan = () => {
    const classes = [fg && `ansi-${fg}-fg`, bg && `ansi-${bg}-bg`, bold && 'ansi-bold'].filter(Boolean);
    if (classes.length) {
      out += `<span class="${classes.join(' ')}">`;
      open = true;
    }
  };
  // eslint-disable-next-line no-control-regex
  const pattern = /\x1b\[([0-9;?]*)([ -/]*[@-~])|\x1b[@-_]/g;
  let last = 0;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) {
    out += escapeHtml(text.slice(last, m.index));
    last = pattern.lastIndex;
    if (m[2] !== 'm') continue; // cursor movement and the like: dropped
    const codes = (m[1] || '0').split(';').map((c) => Number(c || '0'));
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i];
      if (c === 0) [fg, bg, bold] = [undefined, undefined, false];
      else if (c === 1) bold = true;
      else if (c === 22) bold = false;
      else if (c >= 30 && c <= 37) fg = FG[c - 30];
      else if (c >= 90 && c <= 97) fg = `bright-${FG[c - 90]}`;
      else if (c === 39) fg = undefined;
      else if (c >= 40 && c <= 47) bg = FG[c - 40];
      else if (c >= 100 && c <= 107) bg = `bright-${FG[c - 100]}`;
      else if (c === 49) bg = undefined;
      else if (c === 38 || c === 48) i += codes[i + 1] === 5 ? 2 : codes[i + 1] === 2 ? 4 : 0; // 256/true colour: not kept
    }
    if (open) out += '</span>';
    open = false;
    openSpan();
  }
  out += escapeHtml(text.slice(last));
  if (open) out += '</span>';
  return out;
}

/** What a terminal shows for text with carriage returns (progress bars): the last rewrite of each line. */
function terminalText(text: string): string {
  return text
    .split('\n')
    .map((line) => {
      const parts = line.split('\r');
      let shown = '';
      for (const part of parts) shown = part + shown.slice(part.length);
      return shown;
    })
    .join('\n');
}

const MIME_ORDER = ['text/html', 'image/svg+xml', 'image/png', 'image/jpeg', 'image/gif', 'text/markdown', 'text/latex', 'application/json', 'text/plain'];

function asText(value: unknown): string {
  return Array.isArray(value) ? value.join('') : String(value ?? '');
}

/** The richest form of a mime bundle, as HTML. */
export function renderBundle(data: MimeBundle): string {
  const mime = MIME_ORDER.find((m) => data[m] !== undefined);
  if (!mime) {
    const kinds = Object.keys(data);
    return kinds.length ? `<pre class="note">[output of type ${escapeHtml(kinds.join(', '))} not shown]</pre>` : '';
  }
  const value = data[mime];
  switch (mime) {
    case 'text/html':
      return `<div class="html">${asText(value)}</div>`;
    case 'image/svg+xml':
      return `<div class="svg">${asText(value)}</div>`;
    case 'image/png':
    case 'image/jpeg':
    case 'image/gif':
      return `<img class="image" alt="" src="data:${mime};base64,${asText(value).replace(/\s+/g, '')}">`;
    case 'text/markdown':
      return `<div class="markdown">${md.render(asText(value))}</div>`;
    case 'application/json':
      return `<pre class="json">${escapeHtml(JSON.stringify(value, null, 2) ?? '')}</pre>`;
    default:
      return `<pre>${ansiToHtml(asText(value))}</pre>`;
  }
}

function renderOutput(output: Output): string {
  switch (output.output_type) {
    case 'stream':
      return `<pre class="stream ${output.name === 'stderr' ? 'stderr' : 'stdout'}">${ansiToHtml(terminalText(output.text))}</pre>`;
    case 'error': {
      const text = output.traceback.length ? output.traceback.join('\n') : `${output.ename}: ${output.evalue}`;
      return `<pre class="error">${ansiToHtml(text)}</pre>`;
    }
    case 'execute_result':
      return `<div class="result"><div class="prompt out">Out [${output.execution_count ?? ' '}]:</div>${renderBundle(output.data)}</div>`;
    case 'display_data':
      return renderBundle(output.data);
    default:
      return '';
  }
}

/** markdown-it output with `attachment:` images replaced by the cell's attachments, as data: URIs. */
function renderMarkdownCell(cell: Cell): string {
  let html = md.render(cell.source);
  const attachments = cell.attachments && typeof cell.attachments === 'object' ? (cell.attachments as Record<string, MimeBundle>) : {};
  html = html.replace(/src="attachment:([^"]+)"/g, (whole, name: string) => {
    const bundle = attachments[decodeURIComponent(name)];
    const mime = bundle && Object.keys(bundle).find((m) => m.startsWith('image/'));
    return mime ? `src="data:${mime};base64,${asText(bundle[mime]).replace(/\s+/g, '')}"` : whole;
  });
  return html;
}

function renderCell(cell: Cell): string {
  const status = (cell.metadata.papermill as { status?: string } | undefined) ? cellPapermill(cell).status : undefined;
  const classes = ['cell', cell.cell_type, status ? `status-${status}` : '', tagsOf(cell).includes('injected-parameters') ? 'injected-parameters' : ''].filter(Boolean).join(' ');
  if (cell.cell_type === 'markdown') return `<section class="${classes}">${renderMarkdownCell(cell)}</section>`;
  if (cell.cell_type !== 'code') return `<section class="${classes}"><pre>${escapeHtml(cell.source)}</pre></section>`;
  const note = status === 'pending' ? '<div class="note">not run</div>' : status === 'failed' ? '<div class="note failed">failed</div>' : '';
  const outputs = (cell.outputs ?? []).map(renderOutput).join('\n');
  return [
    `<section class="${classes}">`,
    `<div class="input"><div class="prompt">In [${cell.execution_count ?? ' '}]:</div><pre class="source"><code>${escapeHtml(cell.source)}</code></pre></div>`,
    note,
    outputs ? `<div class="outputs">${outputs}</div>` : '',
    '</section>',
  ].join('');
}

const STYLE = `
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em 2em; color: #1f2328; }
header.run { border-bottom: 1px solid #d0d7de; margin-bottom: 1em; padding-bottom: .5em; }
header.run .ok { color: #1a7f37; } header.run .failed { color: #cf222e; }
header.run dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; margin: .5em 0; }
header.run dt { color: #59636e; }
section.cell { margin: .8em 0; }
section.code .input { display: flex; gap: .5em; }
.prompt { color: #59636e; font-family: monospace; min-width: 5.5em; text-align: right; padding-top: .5em; }
.prompt.out { color: #bc4c00; }
pre { margin: .3em 0; padding: .5em; overflow-x: auto; white-space: pre-wrap; word-break: break-word; font-size: 13px; }
pre.source { flex: 1; background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 4px; }
.outputs { margin-left: 6em; overflow-x: auto; }
.result { display: flex; gap: .5em; margin-left: -6em; }
.result > :last-child { flex: 1; }
pre.stderr { background: #fff1f0; }
pre.error { background: #fff1f0; border-left: 3px solid #cf222e; }
.note { margin-left: 6em; color: #59636e; font-style: italic; }
.note.failed { color: #cf222e; }
section.status-failed pre.source { border-color: #cf222e; }
section.status-pending { opacity: .6; }
img.image { max-width: 100%; }
.html table { border-collapse: collapse; } .html th, .html td { border: 1px solid #d0d7de; padding: .2em .5em; }
.ansi-bold { font-weight: bold; }
.ansi-black-fg { color: #3e424d; } .ansi-red-fg { color: #e75c58; } .ansi-green-fg { color: #00a250; } .ansi-yellow-fg { color: #ddb62b; }
.ansi-blue-fg { color: #208ffb; } .ansi-magenta-fg { color: #d160c4; } .ansi-cyan-fg { color: #60c6c8; } .ansi-white-fg { color: #c5c1b4; }
.ansi-bright-black-fg { color: #282c36; } .ansi-bright-red-fg { color: #b22b31; } .ansi-bright-green-fg { color: #007427; } .ansi-bright-yellow-fg { color: #b27d12; }
.ansi-bright-blue-fg { color: #0065ca; } .ansi-bright-magenta-fg { color: #a03196; } .ansi-bright-cyan-fg { color: #258f8f; } .ansi-bright-white-fg { color: #a1a6b2; }
.ansi-black-bg { background: #3e424d; } .ansi-red-bg { background: #e75c58; } .ansi-green-bg { background: #00a250; } .ansi-yellow-bg { background: #ddb62b; }
.ansi-blue-bg { background: #208ffb; } .ansi-magenta-bg { background: #d160c4; } .ansi-cyan-bg { background: #60c6c8; } .ansi-white-bg { background: #c5c1b4; }
`;

function runHeader(nb: Notebook, title: string): string {
  const pm = nb.metadata.papermill ? notebookPapermill(nb) : undefined;
  if (!pm) return `<header class="run"><h1>${escapeHtml(title)}</h1></header>`;
  const failed = pm.exception === true;
  const rows: Array<[string, string]> = [
    ['result', `<span class="${failed ? 'failed' : 'ok'}">${failed ? 'failed' : 'succeeded'}</span>`],
    ['input', escapeHtml(pm.input_path ?? '')],
    ['started', escapeHtml(pm.start_time ?? '')],
    ['ended', escapeHtml(pm.end_time ?? '')],
    ['duration', pm.duration === null || pm.duration === undefined ? '' : `${pm.duration.toFixed(1)} s`],
  ];
  const params = pm.parameters && Object.keys(pm.parameters).length ? `<details open><summary>parameters</summary><pre class="json">${escapeHtml(JSON.stringify(pm.parameters, null, 2))}</pre></details>` : '';
  return `<header class="run"><h1>${escapeHtml(title)}</h1><dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>${params}</header>`;
}

/** The whole report page. */
export function renderReport(nb: Notebook, title: string): string {
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    runHeader(nb, title),
    '<main>',
    ...nb.cells.map(renderCell),
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
