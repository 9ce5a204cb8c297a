// Magics about magics: %lsmagic lists every magic with its one-line summary.
import { Magic, MagicRegistry, textValue } from './registry';

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
