// %history <service>: the service's deploys and rollbacks as the engine's audit records hold them (deploy/audit.ts).
import { escapeHtml } from '../../kernel/io/html';
import type { Magic } from '../registry';
import type { DockerConnection } from './engine/connection';
import { auditLine, listRecords } from './deploy/audit';

export function historyMagic(connection: DockerConnection): Magic {
  return {
    name: 'history',
    summary: "list a service's deploys and rollbacks (who, when, image, outcome, duration) from the engine",
    kind: 'line',
    positional: { name: 'service', description: 'the service name given to %deploy --name', required: true },
    options: [{ name: 'limit', type: 'number', valueName: 'n', description: 'show the newest n (default 20)' }],
    run: async ({ args, bound }) => {
      const { docker } = await connection.engine();
      const limit = typeof args.options.limit === 'number' ? args.options.limit : 20;
      const records = (await listRecords(docker, args.rest)).slice(0, limit);
      if (bound) return records;
      if (records.length === 0) return { [Symbol.for('Jupyter.display')]: () => ({ 'text/plain': `no deploys of ${args.rest} recorded on this engine` }) };
      const cols = ['at', 'kind', 'image', 'outcome', 'by', 'duration', 'gap'];
      const rows = records.map((r) => [r.at, r.kind, r.image, r.outcome, r.by, `${(r.durationMs / 1000).toFixed(1)} s`, r.cutoverGapMs === undefined ? '' : `${r.cutoverGapMs} ms`]);
      const html = `<table><tr>${cols.map((c) => `<th style="text-align:left">${c}</th>`).join('')}</tr>${rows.map((row) => `<tr>${row.map((v) => `<td style="text-align:left">${escapeHtml(v)}</td>`).join('')}</tr>`).join('')}</table>`;
      const text = records.map(auditLine).join('\n');
      return { [Symbol.for('Jupyter.display')]: () => ({ 'text/plain': text, 'text/html': html }) };
    },
  };
}
