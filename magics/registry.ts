// The magic registry: what a magic is (an async function of parsed arguments, cell body and the Io that
// returns a value, per DESIGN.md) and where magics register, so the kernel can find, list and complete them.
// magics/ depends on kernel/io.ts and nothing else in kernel/.
import type { Io } from '../kernel/io';

export interface MagicOption {
  name: string;
  description: string;
}

export interface Magic {
  name: string;
  /** One line for %lsmagic and completion. */
  summary: string;
  options: MagicOption[];
  run(args: string[], body: string | undefined, io: Io): Promise<unknown>;
}

export class MagicRegistry {
  private readonly magics = new Map<string, Magic>();

  register(magic: Magic): void {
    if (this.magics.has(magic.name)) throw new Error(`a magic named %${magic.name} is already registered`);
    this.magics.set(magic.name, magic);
  }

  get(name: string): Magic | undefined {
    return this.magics.get(name);
  }

  names(): string[] {
    return [...this.magics.keys()].sort();
  }

  /** Completion hook: magic names after `%`, option names after a magic's name. */
  complete(prefix: string, magicName?: string): string[] {
    if (magicName === undefined) return this.names().filter((n) => n.startsWith(prefix));
    return (this.magics.get(magicName)?.options ?? []).map((o) => `--${o.name}`).filter((o) => o.startsWith(prefix));
  }
}
