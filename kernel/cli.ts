#!/usr/bin/env node
// The `opsbook` command: `install` / `uninstall` the kernelspec, `kernel -f <connection file>` to run, and
// `run <notebook>` to execute a notebook headless, papermill style (kernel/runner/).
import { Command, CommanderError } from 'commander';
import { readConnectionFile, ConnectionFileError } from './protocol/connection';
import { DEFAULT_DISPLAY_NAME, DEFAULT_NAME, install, kernelJson, uninstall, InstallOptions } from './kernelspec';
import { KERNEL_VERSION } from './kernel-info';
import { splitParameterPairs } from './runner/argv';
import type { KernelToRun, RunCommandOptions } from './runner/main';

function addLocationOptions(cmd: Command): Command {
  return cmd
    .option('--user', 'for the current user (~/.local/share/jupyter/kernels)')
    .option('--sys-prefix', "into Python's sys.prefix (the active virtualenv or conda env)")
    .option('--prefix <path>', 'under PATH/share/jupyter/kernels')
    .option('--name <name>', 'kernelspec name', 'opsbook');
}

function locationOf(opts: { user?: boolean; sysPrefix?: boolean; prefix?: string; name?: string; displayName?: string }): InstallOptions {
  const chosen = [opts.user, opts.sysPrefix, opts.prefix !== undefined].filter(Boolean).length;
  if (chosen > 1) throw new Error('choose one of --user, --sys-prefix and --prefix');
  return opts;
}

function fail(message: string): never {
  process.stderr.write(`opsbook: ${message}\n`);
  process.exit(1);
}

const program = new Command('opsbook').description('A Jupyter kernel in TypeScript for ops notebooks').version(KERNEL_VERSION);

addLocationOptions(program.command('install').description('register the opsbook kernel with Jupyter'))
  .option('--display-name <name>', 'name shown in the notebook launcher', 'TypeScript (opsbook)')
  .action((opts) => {
    try {
      const dir = install(locationOf(opts));
      process.stdout.write(`Installed kernelspec ${opts.name} in ${dir}\n`);
    } catch (e) {
      fail(`install failed: ${(e as Error).message}`);
    }
  });

addLocationOptions(program.command('uninstall').description('remove the opsbook kernelspec')).action((opts) => {
  try {
    const dir = uninstall(locationOf(opts));
    process.stdout.write(dir ? `Removed kernelspec ${opts.name} from ${dir}\n` : `No kernelspec ${opts.name} is installed there\n`);
  } catch (e) {
    fail(`uninstall failed: ${(e as Error).message}`);
  }
});

program
  .command('kernel')
  .description('run the kernel (Jupyter starts this through the kernelspec)')
  .requiredOption('-f, --connection-file <file>', 'the connection file written by the frontend')
  .argument('[ignored...]', 'extra arguments some launchers append (jupyter run adds its files); ignored')
  .action(async (_ignored: string[], opts: { connectionFile: string }) => {
    try {
      const info = readConnectionFile(opts.connectionFile);
      const { Kernel } = await import('./kernel');
      await new Kernel(info).start();
    } catch (e) {
      fail(e instanceof ConnectionFileError ? e.message : `kernel failed to start: ${(e as Error).message}`);
    }
  });

/** What `opsbook run` (a client: kernel/runner/) needs to know of this kernel: the kernelspec `install` writes. */
function kernelToRun(): KernelToRun {
  const spec = kernelJson(DEFAULT_DISPLAY_NAME);
  return {
    cli: __filename, // this file, built: dist/kernel/cli.js, the script the kernelspec's argv runs
    name: DEFAULT_NAME,
    displayName: spec.display_name,
    language: spec.language,
    interruptMode: spec.interrupt_mode,
    version: KERNEL_VERSION,
  };
}

// -p/-r take two values (papermill's NAME VALUE), which commander cannot: they are taken out of argv first
const { argv, pairs: runPairs } = splitParameterPairs(process.argv);
const collect = (value: string, previous: string[] = []) => [...previous, value];

program
  .command('run')
  .description('run a notebook headless with the opsbook kernel, papermill style (no Python needed)')
  .argument('<notebook>', 'the notebook to run')
  .argument('[output]', 'where to write the executed notebook (default: <name>.executed.ipynb in the current folder)')
  .option('-p, --parameters <name value>', 'a parameter, typed like papermill: True/False/None, int, float, else string (repeatable)')
  .option('-r, --parameters-raw <name value>', 'a parameter kept as a string (repeatable)')
  .option('-y, --parameters-yaml <yaml>', 'parameters as a YAML mapping (repeatable)', collect)
  .option('-f, --parameters-file <file>', 'parameters from a YAML file (repeatable)', collect)
  .option('--timeout <seconds>', 'fail a cell that runs longer (the kernel is interrupted, then killed)')
  .option('--start-timeout <seconds>', 'how long the kernel may take to start', '60')
  .option('--cwd <dir>', "the kernel's working folder (default: the notebook's folder)")
  .option('--html <file>', 'also write a self-contained HTML report of the executed notebook')
  .option('--pushgateway <url>', "push the run's metrics to this Prometheus Pushgateway")
  .option('--log-output', "echo the cells' stdout/stderr as they run")
  .addHelpText('after', '\nParameters apply in this order, later ones winning: -f, -y, -p, -r.\nExit codes: 0 ok (also when a cell stops the run with exit(0) or %stop-here), 1 a cell failed, timed out or the kernel died,\n2 usage or setup error, 3 the metrics push failed, 130/143 stopped by SIGINT/SIGTERM.')
  .exitOverride((e: CommanderError) => process.exit(e.exitCode === 0 ? 0 : 2))
  .action(async (notebook: string, output: string | undefined, opts: Omit<RunCommandOptions, 'notebook' | 'output' | 'pairs'>) => {
    const { runCommand } = await import('./runner/main');
    process.exit(await runCommand({ ...opts, notebook, output, pairs: runPairs }, kernelToRun()));
  });

program.parseAsync(argv).catch((e: Error) => fail(e.message));
