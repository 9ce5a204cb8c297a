// The names every cell sees (console, require, display, clearOutput, input, password, io, comms, and the rich
// helpers html, markdown, svg, png, json), and the routing of process.stdout/stderr writes to the Io of the
// cell that made them.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { CellIo } from './cell-io';
import { cellConsole } from './cell-console';
import { cleanMetadata, toBundle, toUpdateBundle } from './display';
import { html, json, markdown, png, svg } from './rich-values';
import type { CommManager } from './comms';
import type { DisplayHandle } from '../../io/io';
import { SystemExit } from '../../io/errors';

export interface CellGlobals {
  /** True for handles returned by display(): a cell ending in `display(x)` shows x once, not also its handle. */
  isDisplayHandle(value: unknown): boolean;
}

export function installCellGlobals(currentIo: () => CellIo | undefined, comms: CommManager): CellGlobals {
  const hostWrite = { stdout: process.stdout.write.bind(process.stdout), stderr: process.stderr.write.bind(process.stderr) };
  const route = (name: 'stdout' | 'stderr', chunk: unknown): boolean => {
    const io = currentIo();
    const text = typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : String(chunk);
    if (io) io.stream(name, text);
    else hostWrite[name](text);
    return true;
  };
  process.stdout.write = ((chunk: unknown) => route('stdout', chunk)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: unknown) => route('stderr', chunk)) as typeof process.stderr.write;

  const requireIo = (): CellIo => {
    const io = currentIo();
    if (!io) throw new Error('no cell is running');
    return io;
  };
  const displayHandles = new WeakSet<object>();

  const globals: Record<string, unknown> = {
    console: cellConsole(route, process.stdout, process.stderr),
    require: createRequire(path.join(process.cwd(), '__notebook__.js')),
    comms: comms.api(),
    display(value: unknown, options: { id?: string; update?: boolean } = {}): DisplayHandle | undefined {
      const io = requireIo();
      const bundle = toBundle(value);
      if (options.update && options.id) {
        io.emit('update_display_data', { ...bundle, transient: { display_id: options.id } });
        return undefined;
      }
      const shown = io.display(bundle.data, { id: options.id, metadata: bundle.metadata });
      // update() formats any value as display() does; a ready mime bundle ({ "text/plain": "2" }) goes as it is
      const handle: DisplayHandle = {
        id: shown.id,
        update(next: unknown, metadata?: Record<string, unknown>): void {
          const b = toUpdateBundle(next);
          shown.update(b.data, metadata === undefined ? b.metadata : cleanMetadata(metadata));
        },
        clear: () => shown.clear(),
      };
      displayHandles.add(handle);
      return handle;
    },
    clearOutput(options: { wait?: boolean } = {}): void {
      requireIo().clearOutput(options.wait === true);
    },
    input: (prompt = '') => requireIo().input(String(prompt)),
    /** Ends the run here: exit(0) is a success for papermill and `opsbook run` (SystemExit 0), like Python's. */
    exit: (code = 0): never => {
      throw new SystemExit(Number(code) || 0);
    },
    quit: (code = 0): never => {
      throw new SystemExit(Number(code) || 0);
    },
    password: (prompt = '') => requireIo().input(String(prompt), { password: true }),
    html,
    markdown,
    svg,
    png,
    json,
  };
  Object.defineProperty(globals, 'io', { get: requireIo, enumerable: true, configurable: true });
  Object.defineProperties(globalThis, Object.getOwnPropertyDescriptors(globals));

  return { isDisplayHandle: (value) => typeof value === 'object' && value !== null && displayHandles.has(value) };
}
