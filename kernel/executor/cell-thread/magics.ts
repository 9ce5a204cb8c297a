// The composition root of the magics: the one file in kernel/ that imports magics/. It creates the magics the
// cell thread starts with (magics/index.ts) and binds them to the running cell (magic-runner.ts); the rest of
// the kernel knows them only as kernel/io/magics.ts's CellMagics.
//
// The magics are loaded on their first use (a magic line, a completion after `%`), not at start: their modules
// (the Docker and Prometheus clients, YAML, Markdown...) took about as long to load as the rewrite's, and a
// frontend's first cell, sent the moment kernel_info answers, waited for that before the cell thread could run
// it. A magic cell talks to an engine or a server anyway; its first one pays the load instead.
import type { Io } from '../../io/io';
import type { CellMagics, MagicRequest } from '../../io/magics';
import { installMagicRunner } from './magic-runner';

type MagicsModule = typeof import('../../../magics/index');

class MagicsOnFirstUse implements CellMagics {
  private loaded: CellMagics | undefined;

  private get magics(): CellMagics {
    this.loaded ??= (require('../../../magics/index') as MagicsModule).createMagics().registry;
    return this.loaded;
  }

  /** Async, so that a magic module failing to load rejects like any magic's failure. */
  async run(request: MagicRequest, io: Io): Promise<unknown> {
    return this.magics.run(request, io);
  }

  completeArguments(name: string, before: string): Promise<{ matches: string[]; replace: number }> | undefined {
    return this.magics.completeArguments(name, before);
  }

  complete(prefix: string, magicName?: string): string[] {
    return this.magics.complete(prefix, magicName);
  }
}

export function setUpMagics(currentIo: () => Io | undefined): CellMagics {
  const magics = new MagicsOnFirstUse();
  installMagicRunner(magics, currentIo);
  return magics;
}
