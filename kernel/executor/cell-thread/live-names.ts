// Names on live objects of the cell context: resolving a member chain, property names of a value (own members
// first, Object's last), names a cell declares, and IPython's order of matches. No evaluation: property reads only.
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

/**
 * Object.prototype's legacy accessors: noise after every `obj.` (Deno and IPython leave such names out), offered
 * only when the name typed asks for them (starts with `__`).
 */
const LEGACY_ACCESSORS = new Set(['__proto__', '__defineGetter__', '__defineSetter__', '__lookupGetter__', '__lookupSetter__']);

/**
 * Names of the properties of a value and its prototypes that start with prefix (no symbols), in groups, best
 * first: the value's own, then each prototype's (a class's methods, then its parent class's...), and last the
 * members every object has: those of the chain's root (Object.prototype, of whichever realm) and `constructor`.
 */
export function propertyNameGroups(value: unknown, prefix: string, identifiersOnly: boolean): string[][] {
  const groups: string[][] = [];
  const common: string[] = [];
  const legacyAsked = prefix.startsWith('__');
  let obj: unknown = value === null || value === undefined ? undefined : Object(value);
  for (let depth = 0; obj && depth < 20; depth++) {
    const current = obj;
    const names = attempt(() => Object.getOwnPropertyNames(current), [] as string[]);
    obj = attempt(() => Object.getPrototypeOf(current) as unknown, undefined);
    const isRoot = depth > 0 && obj === null;
    const group: string[] = [];
    for (const name of names) {
      if (!name.startsWith(prefix) || (identifiersOnly && !IDENTIFIER.test(name)) || (LEGACY_ACCESSORS.has(name) && !legacyAsked)) continue;
      (isRoot || name === 'constructor' ? common : group).push(name);
    }
    groups.push(group);
  }
  groups.push(common);
  return groups;
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

/** Groups of names joined best group first, each in IPython's order; a name stays in the first group that has it. */
export function ranked(groups: Iterable<Iterable<string>>): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const group of groups) {
    for (const name of sorted(new Set(group))) {
      if (seen.has(name)) continue;
      seen.add(name);
      out.push(name);
    }
  }
  return out;
}
