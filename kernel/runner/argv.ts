// `-p NAME VALUE` and `-r NAME VALUE` take two values, as in papermill; commander takes one per option. Before
// commander parses `opsbook run`, this pulls those pairs out of argv, so a value may start with `-` (`-p offset
// -5`) and positional arguments may come after them. No dependencies: kernel/cli.ts loads it eagerly.

export interface ParameterPair {
  /** `typed`: -p, read like papermill (True/False/None, int, float, else string); `raw`: -r, always a string. */
  kind: 'typed' | 'raw';
  name: string;
  value: string;
}

const PAIR_FLAGS: Record<string, ParameterPair['kind']> = {
  '-p': 'typed',
  '--parameters': 'typed',
  '-r': 'raw',
  '--parameters-raw': 'raw',
  '--parameters_raw': 'raw',
};

/** Options of `opsbook run` that take one value: that value is never read as a flag. */
const VALUE_FLAGS = new Set([
  '-y', '--parameters-yaml', '--parameters_yaml', '-f', '--parameters-file', '--parameters_file',
  '--timeout', '--start-timeout', '--start_timeout', '--cwd', '--html', '--pushgateway',
]);

/**
 * Splits the `-p`/`-r` pairs out of a `opsbook run ...` command line (`argv` as in process.argv). Other command
 * lines come back unchanged. A pair flag without two values is left in place for commander to report.
 */
export function splitParameterPairs(argv: readonly string[]): { argv: string[]; pairs: ParameterPair[] } {
  if (argv[2] !== 'run') return { argv: [...argv], pairs: [] };
  const out = argv.slice(0, 3);
  const pairs: ParameterPair[] = [];
  for (let i = 3; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const kind = PAIR_FLAGS[arg];
    if (kind && i + 2 < argv.length) {
      pairs.push({ kind, name: argv[i + 1], value: argv[i + 2] });
      i += 2;
      continue;
    }
    out.push(arg);
    if (VALUE_FLAGS.has(arg) && i + 1 < argv.length) out.push(argv[++i]);
  }
  return { argv: out, pairs };
}
