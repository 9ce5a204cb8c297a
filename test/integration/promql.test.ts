// %promql through a real kernel against the real Prometheus (Debian's /usr/bin/prometheus with backfilled
// history and a live target): range and instant charts, legends, gaps, auto step, the bound data, plotly.js once,
// empty results, parse errors, warnings, auth through a proxy, timeout, interrupt, a server stopped mid-query,
// --watch, and completion of metric names. Skipped with a warning without Prometheus, except with CI=true.
import { startTestKernel, TestKernel } from '../support/kernel-client';
import type { Message } from '../../kernel/protocol/messages';
import { freePort } from '../support/kernel-process';
import { startAuthProxy, AuthProxy } from '../support/auth-proxy';
import { startLiveTarget, LiveTarget } from '../support/live-target';
import { historyOpenMetrics, History } from '../support/prom-history';
import { PROMETHEUS_BIN } from '../../notebooks/stack/prometheus';
import { prometheusAvailable, startPrometheus, PrometheusHandle } from '../support/prometheus';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const available = prometheusAvailable();
const mustRun = process.env.CI === 'true';
if (!available && !mustRun) console.warn(`promql: SKIPPED, ${PROMETHEUS_BIN} is missing (install the Debian package \`prometheus\`); with CI=true this suite fails instead`);
const describeStack = available || mustRun ? describe : describe.skip;

const PLOTLY = 'application/vnd.plotly.v1+json';
interface Trace {
  name: string;
  y: Array<number | null>;
}

const displays = (outputs: Message[]) => outputs.filter((m) => m.header.msg_type === 'display_data');
const value = (outputs: Message[]) => (outputs.find((m) => m.header.msg_type === 'execute_result')?.content.data as Record<string, string> | undefined)?.['text/plain'];
const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

describeStack('%promql against a real Prometheus', () => {
  let history: History;
  let live: LiveTarget;
  let prometheus: PrometheusHandle;
  let k: TestKernel;
  const proxies: AuthProxy[] = [];
  const proxy = async (options: Omit<Parameters<typeof startAuthProxy>[0], 'target'>) => {
    const p = await startAuthProxy({ target: prometheus.url, ...options });
    proxies.push(p);
    return p;
  };

  beforeAll(async () => {
    history = historyOpenMetrics({ end: Math.floor(Date.now() / 1000) - 600, hours: 24, stepSeconds: 60 });
    live = await startLiveTarget();
    prometheus = await startPrometheus({ history: history.text, scrapeTargets: [live.hostPort] });
    k = await startTestKernel({ env: { PROMETHEUS_URL: prometheus.url, OPSBOOK_PROM_TOKEN: 'tok-123', OPSBOOK_PROM_USER: 'ops', OPSBOOK_PROM_PASS: 'pw-456' } });
  }, 60_000);
  afterAll(async () => {
    await k?.stop();
    for (const p of proxies) await p.stop();
    await prometheus?.stop();
    await live?.stop();
  });
  afterEach(async () => {
    await k.client.execute('%config --reset');
  });

  test('a range query is a chart: legend templates, series sorted by labels, rates from the history; plotly.js once', async () => {
    const e = history.expected;
    const r = await k.client.execute(`%promql rate(opsbook_test_requests_total[5m]) --start ${iso(e.start + 3600)} --end ${iso(e.start + 7200)} --legend "{{instance}} {{code}}" --unit reqps --title Requests`);
    expect(r.reply.content.status).toBe('ok');
    const [shown] = displays(r.outputs);
    const data = shown.content.data as Record<string, unknown>;
    const figure = data[PLOTLY] as { data: Trace[]; layout: { title?: unknown } };
    // sorted by label set: code, then instance
    expect(figure.data.map((t) => t.name)).toEqual(['a:1 200', 'b:2 200', 'a:1 500']);
    expect(figure.data.map((t) => [...new Set(t.y)])).toEqual([[10], [2], [0.5]]);
    expect(JSON.stringify(figure.layout.title)).toContain('Requests');
    expect(String(data['text/plain'])).toContain('3 series');
    const html = String(data['text/html']);
    expect(html.length).toBeGreaterThan(1_000_000); // the first chart of the session carries plotly.js
    expect(html).not.toMatch(/<\/script(?![\s>])/i);
    const second = await k.client.execute(`%promql opsbook_test_latency_seconds --start ${iso(e.start)} --end ${iso(e.start + 3600)}`);
    const html2 = String((displays(second.outputs)[0].content.data as Record<string, unknown>)['text/html']);
    expect(html2.length).toBeLessThan(200_000); // later charts only use it
    expect(html2).toContain('Plotly');
  });

  test('const r = %promql binds the data: NaN, +Inf and the gap are nulls on the step grid', async () => {
    const e = history.expected;
    const r = await k.client.execute(`const g = %promql opsbook_test_gappy --start ${iso(e.start)} --end ${iso(e.end)} --step 60\n[g.series.length, g.step, g.series[0].timestamps.length, g.series[0].values.filter((v) => v === null).length, g.series[0].values[1]]`);
    expect(r.reply.content.status).toBe('ok');
    expect(displays(r.outputs)).toHaveLength(1);
    // 25 missing steps in the gap (the 5-minute lookback covers the rest), 3 NaN and 1 +Inf
    expect(value(r.outputs)).toBe(`[ 1, 60, ${(e.end - e.start) / 60 + 1}, ${25 + 3 + 1}, 1 ]`);
  });

  test('the automatic step follows the range: 5 s for 1 h, 1 h for 30 d (never over 11,000 points)', async () => {
    const r = await k.client.execute('const h = %promql opsbook_test_bytes --since 1h\nconst m = %promql opsbook_test_bytes --since 30d\n[h.step, m.step, (m.end - m.start) / m.step <= 11000]');
    expect(value(r.outputs)).toBe('[ 5, 3600, true ]');
  });

  test('--instant: a table and a bar chart, values in the unit', async () => {
    const e = history.expected;
    const r = await k.client.execute(`%promql --instant opsbook_test_bytes --end ${iso(e.start + 60)} --unit bytes`);
    const data = displays(r.outputs)[0].content.data as Record<string, unknown>;
    expect(String(data['text/plain'])).toContain('5 GiB');
    expect(String(data['text/html'])).toContain('<table');
    expect(data[PLOTLY]).toBeDefined();
  });

  test('several queries in a %%promql cell, each with its own # legend', async () => {
    const e = history.expected;
    const r = await k.client.execute(`%%promql --start ${iso(e.start + 3600)} --end ${iso(e.start + 5400)}\nsum(rate(opsbook_test_requests_total{code="200"}[5m]))  # ok\nsum(rate(opsbook_test_requests_total{code="500"}[5m]))  # errors`);
    const figure = (displays(r.outputs)[0].content.data as Record<string, unknown>)[PLOTLY] as { data: Trace[] };
    expect(figure.data.map((t) => t.name).sort()).toEqual(['errors', 'ok']);
  });

  test('an empty result says so; a parse error is Prometheus\'s own text with its position and the query', async () => {
    const empty = await k.client.execute('%promql opsbook_no_such_metric --since 2h');
    expect(String((displays(empty.outputs)[0].content.data as Record<string, unknown>)['text/plain'])).toBe('no data for opsbook_no_such_metric in the last 2h');
    const bad = await k.client.execute('%promql rate(opsbook_test_bytes[5m]');
    expect(bad.reply.content.ename).toBe('MagicError');
    expect(String(bad.reply.content.evalue)).toMatch(/^Prometheus bad_data error: .*1:\d+: parse error: .*\nquery: rate\(opsbook_test_bytes\[5m\]$/s);
    expect((bad.reply.content.traceback as string[]).join('\n')).not.toMatch(/\bat .*\.js:\d+/);
  });

  test('Prometheus warnings are shown under the chart', async () => {
    const p = await proxy({ injectWarnings: ['remote read: partial data from store-b'] });
    const r = await k.client.execute(`%prometheus ${p.url}\n%promql opsbook_test_bytes --since 2h`);
    const data = displays(r.outputs)[0].content.data as Record<string, unknown>;
    expect(String(data['text/plain'])).toContain('remote read: partial data from store-b');
    expect(String(data['text/html'])).toContain('remote read: partial data from store-b');
  });

  test('bearer and basic auth through a proxy, secrets from environment variables; without them a 401 says what to check', async () => {
    const bearer = await proxy({ bearer: 'tok-123' });
    const denied = await k.client.execute(`%prometheus ${bearer.url}\n%promql opsbook_test_bytes --since 2h`);
    expect(String(denied.reply.content.evalue)).toBe(`Prometheus at ${bearer.url} answered HTTP 401 Unauthorized`);
    const ok = await k.client.execute(`%prometheus ${bearer.url} --bearer-token-env OPSBOOK_PROM_TOKEN\n%promql opsbook_test_bytes --since 2h`);
    expect(ok.reply.content.status).toBe('ok');
    const basic = await proxy({ basic: { user: 'ops', password: 'pw-456' } });
    const viaBasic = await k.client.execute(`%prometheus ${basic.url} --basic-auth-env OPSBOOK_PROM_USER:OPSBOOK_PROM_PASS\n%promql opsbook_test_bytes --since 2h`);
    expect(viaBasic.reply.content.status).toBe('ok');
    expect(JSON.stringify([ok.outputs.filter((m) => m.header.msg_type !== 'execute_input').map((m) => m.content), viaBasic.outputs.filter((m) => m.header.msg_type !== 'execute_input').map((m) => m.content)])).not.toMatch(/tok-123|pw-456/);
  });

  test('a server that never answers: --timeout gives up with the URL; an interrupt aborts at once', async () => {
    const hang = await proxy({ hang: true });
    const t0 = Date.now();
    const r = await k.client.execute(`%prometheus ${hang.url}\n%promql up --timeout 1s`);
    expect(String(r.reply.content.evalue)).toBe(`Prometheus at ${hang.url} did not answer within 1 s`);
    expect(Date.now() - t0).toBeLessThan(4000);
    const pending = k.client.execute(`%prometheus ${hang.url}\n%promql up`, {}, 20000);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const t1 = Date.now();
    await k.client.call('interrupt_request', {}, { channel: 'control', timeoutMs: 5000 });
    const interrupted = await pending;
    expect(interrupted.reply.content.ename).toBe('KeyboardInterrupt');
    expect(Date.now() - t1).toBeLessThan(1500);
    expect(value((await k.client.execute('1 + 1')).outputs)).toBe('2');
  });

  test('an unreachable Prometheus is one line naming the URL', async () => {
    const port = await freePort();
    const r = await k.client.execute(`%prometheus http://127.0.0.1:${port}\n%promql up`);
    expect(r.reply.content.evalue).toBe(`cannot connect to Prometheus at http://127.0.0.1:${port} (connection refused)`);
    expect(r.reply.content.traceback).toEqual([`MagicError: ${String(r.reply.content.evalue)}`, 'is Prometheus running there? check PROMETHEUS_URL or %prometheus <url>']);
  });

  test('Prometheus stopped in the middle of a query: a clear error, the kernel goes on', async () => {
    const doomed = await startPrometheus({});
    try {
      const pending = k.client.execute(`%prometheus ${doomed.url}\n%promql --instant count_over_time(vector(1)[30d:1s])`, {}, 20000);
      const active = path.join(doomed.dataDir, 'queries.active');
      const deadline = Date.now() + 10000;
      while (Date.now() < deadline && !(existsSync(active) && readFileSync(active, 'utf8').includes('count_over_time'))) await new Promise((resolve) => setTimeout(resolve, 20));
      doomed.kill();
      const r = await pending;
      expect(r.reply.content.ename).toBe('MagicError');
      expect(String(r.reply.content.evalue)).toBe(`Prometheus at ${doomed.url} closed the connection before answering`);
    } finally {
      await doomed.stop();
    }
    expect(value((await k.client.execute('2 + 2')).outputs)).toBe('4');
  });

  test('--watch refreshes the same chart in place (update_display_data) until --for ends', async () => {
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline && live.scrapes() === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    const r = await k.client.execute('%promql opsbook_live_up --since 5m --watch 1s --for 2500ms', {}, 20000);
    expect(r.reply.content.status).toBe('ok');
    const [first] = displays(r.outputs);
    const id = (first.content.transient as Record<string, string>).display_id;
    const updates = r.outputs.filter((m) => m.header.msg_type === 'update_display_data');
    expect(updates.length).toBeGreaterThanOrEqual(1);
    for (const u of updates) expect((u.content.transient as Record<string, string>).display_id).toBe(id);
    // each new chart comes right after a form without the Plotly JSON, so JupyterLab renders it with a new Plotly
    // renderer (the one that drew the previous chart never redraws); the last message is the chart
    const forms = updates.map((u) => (PLOTLY in (u.content.data as Record<string, unknown>) ? 'chart' : 'redrawing'));
    expect(forms).toEqual(forms.map((_, i) => (i % 2 === 0 ? 'redrawing' : 'chart')));
    expect(forms.at(-1)).toBe('chart');
    const redrawing = updates[0].content.data as Record<string, unknown>;
    expect(redrawing['text/html']).toMatch(/^<div class="opsbook-chart-redrawing" style="height:\d+px"><\/div>$/);
  });

  test('a failed --watch refresh says why in every form of the chart (text/plain, text/html, the Plotly figure), and the watch goes on', async () => {
    const doomed = await startPrometheus({});
    try {
      k.client.forget();
      const pending = k.client.execute(`%prometheus ${doomed.url}\n%promql vector(42) --since 5m --watch 500ms --for 2500ms`, {}, 20000);
      await k.client.waitForIopub((m) => m.header.msg_type === 'display_data' && PLOTLY in (m.content.data as Record<string, unknown>), 15000, 'the first chart').catch(async (error: Error) => {
        throw new Error(`${error.message}; the cell's outputs: ${JSON.stringify((await pending).outputs.map((m) => [m.header.msg_type, m.content]).slice(0, 5)).slice(0, 1500)}`);
      });
      doomed.kill();
      const r = await pending;
      expect(r.reply.content.status).toBe('ok');
      const noted = r.outputs
        .filter((m) => m.header.msg_type === 'update_display_data')
        .map((m) => m.content.data as Record<string, unknown>)
        .filter((data) => String(data['text/plain']).includes('failed'));
      expect(noted.length).toBeGreaterThanOrEqual(1);
      const last = noted[noted.length - 1];
      const note = /refresh at \S+ failed: cannot connect to Prometheus at [^;]+ \(connection refused\); retrying every 500ms/;
      expect(String(last['text/plain'])).toMatch(note);
      // the chart stays, with the note above it in text/html and at the top of the Plotly figure
      expect(String(last['text/html'])).toContain('class="opsbook-chart"');
      expect(String(/<div class="opsbook-note"[^>]*>([^<]*)<\/div>/.exec(String(last['text/html']))?.[1])).toMatch(note);
      const figure = last[PLOTLY] as { data: Array<{ y: number[] }>; layout: { annotations?: Array<{ text: string }> } };
      expect(figure.data[0].y.filter((y) => y !== null).every((y) => y === 42)).toBe(true);
      expect(figure.layout.annotations?.map((a) => a.text)).toEqual([expect.stringMatching(note)]);
    } finally {
      await doomed.stop();
    }
  });

  test('plotly.js stays in the saved notebook: the cell that carried it gets it again when re-run; each --watch refresh of the first chart carries it', async () => {
    const fresh = await startTestKernel({ env: { PROMETHEUS_URL: prometheus.url } });
    try {
      const chartIn = async (cellId: string, code = '%promql opsbook_test_bytes --since 2h') => {
        const r = await fresh.client.call('execute_request', { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true }, { metadata: { cellId }, timeoutMs: 20000 });
        return r.outputs.filter((m) => m.header.msg_type === 'display_data' || m.header.msg_type === 'update_display_data').map((m) => String((m.content.data as Record<string, unknown>)['text/html']).length > 1_000_000);
      };
      expect(await chartIn('cell-a')).toEqual([true]);
      expect(await chartIn('cell-b')).toEqual([false]);
      expect(await chartIn('cell-a')).toEqual([true]); // its new output replaces the one that carried plotly.js
      expect(await chartIn('cell-b')).toEqual([false]);
    } finally {
      await fresh.stop();
    }
    const classicKernel = await startTestKernel({ env: { PROMETHEUS_URL: prometheus.url } });
    try {
      const classic = async (code: string) => {
        const r = await classicKernel.client.execute(code, { allow_stdin: false }, 20000);
        return r.outputs.filter((m) => m.header.msg_type === 'display_data').map((m) => String((m.content.data as Record<string, unknown>)['text/html']).length > 1_000_000);
      };
      // classic Notebook sends no cellId: re-running the same code is re-running the same cell, and gets the library again
      expect(await classic('%promql opsbook_test_bytes --since 2h')).toEqual([true]);
      expect(await classic('%promql opsbook_test_bytes --since 1h')).toEqual([false]);
      expect(await classic('%promql opsbook_test_bytes --since 2h')).toEqual([true]);
    } finally {
      await classicKernel.stop();
    }
    const watching = await startTestKernel({ env: { PROMETHEUS_URL: prometheus.url } });
    try {
      const r = await watching.client.execute('%promql opsbook_test_bytes --since 2h --watch 500ms --for 1200ms', {}, 20000);
      // every message that shows the chart (the redrawing step between two charts shows none: see the --watch test)
      const charts = r.outputs.filter((m) => (m.header.msg_type === 'display_data' || m.header.msg_type === 'update_display_data') && PLOTLY in (m.content.data as Record<string, unknown>));
      expect(charts.length).toBeGreaterThanOrEqual(2);
      for (const c of charts) expect(String((c.content.data as Record<string, unknown>)['text/html']).length).toBeGreaterThan(1_000_000);
    } finally {
      await watching.stop();
    }
  });

  test('completion inside %promql: metric names from Prometheus, label values inside {}', async () => {
    const complete = async (code: string) => (await k.client.request('complete_request', { code, cursor_pos: [...code].length })).content;
    const names = await complete('%promql rate(opsbook_test_req');
    expect(names.matches).toEqual(['opsbook_test_requests_total']);
    expect(names.cursor_start).toBe('%promql rate('.length);
    expect((await complete('%promql opsbook_test_requests_total{code="5')).matches).toEqual(['500"']);
    expect((await complete('%promql opsbook_test_bytes --si')).matches).toEqual(['--since']);
  });
});
