// Part of the kernel↔magics contract (kernel/io/): how the kernel calls the magics. A magic line in a cell
// becomes a MagicRequest (kernel/executor/cell-thread/magic-lines.ts writes the call); the magics' registry
// (magics/registry.ts) runs it and completes magic names and options.
import type { Io } from './io';

/** One magic line (`%name text`) or cell magic (`%%name text` and the lines below it) to run. */
export interface MagicRequest {
  name: string;
  text: string;
  /** The cell magic's input (the lines below `%%name`), undefined for a line magic. */
  body?: string;
  cell: boolean;
  /** `%name?`: show the magic's help instead of running it. */
  help: boolean;
  /** The line binds the result (`const r = %name ...`). */
  bound: boolean;
}

/** The magics as the cell thread sees them. */
export interface CellMagics {
  /** Runs a magic with the Io of the cell that called it. Expected failures are UsageError / MagicError. */
  run(request: MagicRequest, io: Io): Promise<unknown>;
  /** A magic's own completion of its arguments (`before`: the text up to the cursor), or undefined when it has none. */
  completeArguments(name: string, before: string): Promise<{ matches: string[]; replace: number }> | undefined;
  /** Magic names after `%` (no `magicName`), or a magic's option names. */
  complete(prefix: string, magicName?: string): string[];
}
