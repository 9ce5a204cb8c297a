// Names on live objects of the cell context: resolving a member chain, property names of a value, names a
// cell declares, and IPython's order of matches. No evaluation: property reads only.
import { attempt } from './attempt';
import { ID, IDENTIFIER } from './identifiers';

export function resolve(global: object, path: string[], base?: { value: unknown }): { found: boolean; value: unknown } {
  let value: unknown = base ? base.value : global;
  for (const name of path) {
    if (value === null || value === undefined) return { found: false, value: undefined };
    try {
      const obj = Object(value) as object;
      if (!(name in obj)) return { found: false, value: undefined };
      value = Reflect.get(obj, name, value);
    } catch {
      return { found: false, value: undefined };
    }
  }
  return { found: true, value };
}

/** Names of the properties of a value and its prototypes that start with prefix (own and inherited, no symbols). */
export function propertyNames(value: unknown, prefix: string, identifiersOnly: boolean, out: Set<string>): void {
  let obj: unknown = value === null || value === undefined ? undefined : Object(value);
  for (let depth = 0; obj && depth < 20; depth++) {
    const current = obj;
    const names = attempt(() => Object.getOwnPropertyNames(current), [] as string[]);
    for (const name of names) if (name.startsWith(prefix) && (!identifiersOnly || IDENTIFIER.test(name))) out.add(name);
    obj = attempt(() => Object.getPrototypeOf(current) as unknown, undefined);
  }
}

/** Names a cell declares, found without parsing (the cell being typed is rarely valid yet). */
export function declaredNames(code: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`(?:^|[^\\p{ID_Continue}$.])(?:const|let|var|function\\*?|class|enum|interface|type|namespace)\\s+(${ID})`, 'gu');
  for (let m = re.exec(code); m; m = re.exec(code)) out.push(m[1]);
  const imports = new RegExp(`\\bimport\\s+(?:type\\s+)?(${ID})?\\s*,?\\s*(?:\\*\\s*as\\s+(${ID})|\\{([^}]*)\\})?\\s*from\\b`, 'gu');
  for (let m = imports.exec(code); m; m = imports.exec(code)) {
    if (m[1]) out.push(m[1]);
    if (m[2]) out.push(m[2]);
    for (const part of (m[3] ?? '').split(',')) {
      const local = part.trim().split(/\s+as\s+/).pop()?.trim() ?? '';
      if (IDENTIFIER.test(local)) out.push(local);
    }
  }
  return out;
}

/** Case-insensitive order, exact case breaking ties; names starting with `_` last (IPython's order). */
export function sorted(names: Iterable<string>): string[] {
  const keyed = [...names].map((n) => ({ n, u: n.startsWith('_') ? 1 : 0, l: n.toLowerCase() }));
  keyed.sort((a, b) => a.u - b.u || (a.l < b.l ? -1 : a.l > b.l ? 1 : a.n < b.n ? -1 : a.n > b.n ? 1 : 0));
  return keyed.map((k) => k.n);
}
