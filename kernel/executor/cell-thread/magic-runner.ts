// Binds the magics to the running cell: the rewritten magic lines (magic-lines.ts) call this global with the
// magic's name and text, and it runs the magic with the Io of the cell that called it.
import type { Io } from '../../io/io';
import type { CellMagics, MagicRequest } from '../../io/magics';
import { MAGIC_RUNNER } from './magic-lines';
import { UsageError } from '../../io/errors';

export function installMagicRunner(magics: CellMagics, currentIo: () => Io | undefined): void {
  const run = (request: Partial<MagicRequest> & { name: string }): Promise<unknown> => {
    const io = currentIo();
    if (!io) return Promise.reject(new Error('a magic can only run inside a cell'));
    const started = Date.now();
    const outcome = (o: 'ok' | 'usage' | 'error' | 'interrupted') => io.record?.({ kind: 'magic', name: request.name, seconds: (Date.now() - started) / 1000, outcome: o });
    return magics.run({ text: '', cell: false, help: false, bound: false, ...request }, io).then(
      (value) => {
        outcome('ok');
        return value;
      },
      (e: unknown) => {
        outcome(io.signal.aborted ? 'interrupted' : e instanceof UsageError ? 'usage' : 'error');
        throw e;
      },
    );
  };
  Object.defineProperty(globalThis, Symbol.for(MAGIC_RUNNER), { value: run, enumerable: false, configurable: true });
}
