#!/usr/bin/env node
// The `opsbook` command: `install` / `uninstall` the kernelspec, and `kernel -f <connection file>` to run.
import { Command } from 'commander';
import { readConnectionFile, ConnectionFileError } from './connection';
import { install, uninstall, InstallOptions } from './kernelspec';
import { KERNEL_VERSION } from './kernel-info';

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

program.parseAsync(process.argv).catch((e: Error) => fail(e.message));
