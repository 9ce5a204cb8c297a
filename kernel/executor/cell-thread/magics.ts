// The composition root of the magics: the one file in kernel/ that imports magics/. It creates the magics the
// cell thread starts with (magics/index.ts) and binds them to the running cell (magic-runner.ts); the rest of
// the kernel knows them only as kernel/io/magics.ts's CellMagics.
import { createMagics } from '../../../magics/index';
import type { Io } from '../../io/io';
import type { CellMagics } from '../../io/magics';
import { installMagicRunner } from './magic-runner';

export function setUpMagics(currentIo: () => Io | undefined): CellMagics {
  const magics = createMagics().registry;
  installMagicRunner(magics, currentIo);
  return magics;
}
