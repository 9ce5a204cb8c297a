// Magics about magics: %lsmagic lists every magic with its one-line summary.
import { Magic, MagicRegistry, textValue } from './registry';
import { SystemExit } from '../kernel/io/errors';

/** %stop-here [reason]: ends the run here as a success (SystemExit 0, which papermill and `opsbook run` accept). */
export const stopHereMagic: Magic = {
  name: 'stop-here',
  summary: 'stop the runbook here, as a success (SystemExit 0); the cells below do not run',
  kind: 'line',
  rawArgs: true,
  options: [],
  run: async ({ args }) => {
    throw new SystemExit(0, args.rest ? `stopped here: ${args.rest}` : 'stopped here on purpose (%stop-here)');
  },
};

export function lsmagic(registry: MagicRegistry): Magic {
  return {
    name: 'lsmagic',
    summary: 'list the available magics',
    kind: 'line',
    options: [],
    run: async () => {
      const all = registry.list();
      const width = Math.max(...all.map((m) => m.name.length)) + 3;
      const section = (title: string, sigil: string, magics: Magic[]) => [title, ...magics.map((m) => `  ${(sigil + m.name).padEnd(width)} ${m.summary}`)];
      const lines = [
        ...section('Line magics:', '%', all.filter((m) => m.kind !== 'cell')),
        '',
        ...section('Cell magics:', '%%', all.filter((m) => m.kind !== 'line')),
        '',
        '`%name?` or `%name --help` shows a magic\'s options. `${expr}` in a magic line inserts a TypeScript value ($${ for a literal ${).',
      ];
      return textValue(lines.join('\n'));
    },
  };
}
