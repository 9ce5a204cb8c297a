// Notebook parameters the papermill way: `-f` YAML files, then `-y` YAML strings, then `-p` (typed like papermill:
// True/False/None, int, float, else string), then `-r` (raw strings); a later one overrides an earlier one. They
// become a code cell tagged `injected-parameters` after the cell tagged `parameters` (or replacing an earlier
// injected cell, or at the top), written as TypeScript: `// Parameters` and one `const name = <literal>;` each.
import { parse as parseYaml } from 'yaml';
import type { Tags } from 'yaml';
import type { ParameterPair } from './argv';
import { UsageError, messageOf } from './errors';
import { Cell, Notebook, newCellId, tagsOf } from './notebook';

/** A parameter value: what JSON holds, plus NaN and ±Infinity (papermill passes float('nan') and float('inf')). */
export type ParamValue = null | boolean | number | string | ParamValue[] | { [key: string]: ParamValue };
export type Parameters = Record<string, ParamValue>;

export interface ParameterSources {
  /** `-f` files, in order, already read: [path, text]. */
  files: Array<[string, string]>;
  /** `-y` YAML strings, in order. */
  yamls: string[];
  pairs: ParameterPair[];
}

const INT = /^[+-]?\d(?:_?\d)*$/;
const FLOAT = /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const SPECIAL_FLOAT = /^([+-]?)(nan|inf|infinity)$/i;

/** A `-p` value typed as papermill's _resolve_type does: True/False/None, then Python's int(), float(), else the string. */
export function resolveType(value: string): ParamValue {
  if (value === 'True') return true;
  if (value === 'False') return false;
  if (value === 'None') return null;
  const trimmed = value.trim(); // int() and float() ignore surrounding whitespace
  if (INT.test(trimmed) || FLOAT.test(trimmed)) return Number(trimmed.replace(/_/g, ''));
  const special = SPECIAL_FLOAT.exec(trimmed);
  if (special) return special[2].toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  return value;
}

const RESERVED = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally for function if ' +
    'import in instanceof new null return super switch this throw true try typeof var void while with yield let static ' +
    'implements interface package private protected public await arguments eval undefined NaN Infinity').split(' '),
);

/** Whether `name` can be declared as `const name` in a cell. */
export function isIdentifier(name: string): boolean {
  return /^[\p{ID_Start}$_][\p{ID_Continue}$\u200C\u200D]*$/u.test(name) && !RESERVED.has(name);
}

function checkName(name: string, from: string): void {
  if (!isIdentifier(name)) {
    throw new UsageError(`parameter name ${JSON.stringify(name)} (from ${from}) is not a valid TypeScript identifier: use letters, digits, _ and $, not starting with a digit, and not a reserved word`);
  }
}

/** Plain data from YAML; anything else (!!binary, !!set, dates) is refused. */
function toParamValue(value: unknown, where: string): ParamValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'number' || typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map((v, i) => toParamValue(v, `${where}[${i}]`));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, ParamValue> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      // defined, not assigned: a "__proto__" key is a key like any other, not the object's prototype
      Object.defineProperty(out, k, { value: toParamValue(v, `${where}.${k}`), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  throw new UsageError(`${where} is not plain YAML data (a string, number, boolean, null, list or mapping)`);
}

/** PyYAML's safe loader, as far as parameters go: no timestamps, and only yes/no/true/false/on/off are booleans (not y/n). */
const pyyamlTags = (tags: Tags): Tags =>
  tags
    .filter((t) => typeof t === 'string' || t.tag !== 'tag:yaml.org,2002:timestamp')
    .map((t) => {
      if (typeof t === 'string' || t.tag !== 'tag:yaml.org,2002:bool' || !('test' in t) || !t.test) return t;
      return { ...t, test: t.test.source.includes('[Tt]rue') ? /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/ : /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/ };
    });

/**
 * A YAML mapping of parameters, read like papermill's NoDatesSafeLoader: YAML 1.1 (yes/no are booleans,
 * 0o17 and 1:30 are numbers as in PyYAML) with dates kept as strings.
 */
export function parseYamlParameters(text: string, source: string): Parameters {
  let value: unknown;
  try {
    value = parseYaml(text, { version: '1.1', customTags: pyyamlTags });
  } catch (e) {
    throw new UsageError(`${source} is not valid YAML: ${messageOf(e).split('\n')[0]}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`${source} must be a YAML mapping of parameter names to values, e.g. "service: api"`);
  const params = toParamValue(value, source) as Parameters;
  for (const name of Object.keys(params)) checkName(name, source);
  return params;
}

/** All parameters, in papermill's order of precedence: -f files, -y strings, -p, -r (later wins). */
export function collectParameters(sources: ParameterSources): Parameters {
  const out: Parameters = {};
  for (const [file, text] of sources.files) Object.assign(out, parseYamlParameters(text, `-f ${file}`));
  for (const yaml of sources.yamls) Object.assign(out, parseYamlParameters(yaml, '-y'));
  for (const kind of ['typed', 'raw'] as const) {
    for (const pair of sources.pairs.filter((p) => p.kind === kind)) {
      checkName(pair.name, kind === 'typed' ? '-p' : '-r');
      out[pair.name] = kind === 'typed' ? resolveType(pair.value) : pair.value;
    }
  }
  return out;
}

/** A TypeScript expression for a value: JSON for data, plus NaN, Infinity, -Infinity. */
export function tsLiteral(value: ParamValue): string {
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
    return Object.is(value, -0) ? '-0' : JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(tsLiteral).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    // `"__proto__": v` in an object literal sets the prototype; the computed form defines an own property
    const key = (k: string) => (k === '__proto__' ? '["__proto__"]' : JSON.stringify(k));
    const entries = Object.entries(value).map(([k, v]) => `${key(k)}: ${tsLiteral(v)}`);
    return entries.length === 0 ? '{}' : `{ ${entries.join(', ')} }`;
  }
  return JSON.stringify(value);
}

/** The injected cell's TypeScript. */
export function injectedSource(params: Parameters): string {
  return ['// Parameters', ...Object.entries(params).map(([name, value]) => `const ${name} = ${tsLiteral(value)};`), ''].join('\n');
}

export type Injection = 'replaced' | 'after-parameters' | 'top';

/** Puts the injected-parameters cell where papermill does; returns where it went. */
export function injectParameters(nb: Notebook, params: Parameters): Injection {
  const cell: Cell = {
    id: newCellId(),
    cell_type: 'code',
    execution_count: null,
    metadata: { tags: ['injected-parameters'] },
    outputs: [],
    source: injectedSource(params),
  };
  const injected = nb.cells.findIndex((c) => tagsOf(c).includes('injected-parameters'));
  const declared = nb.cells.findIndex((c) => tagsOf(c).includes('parameters'));
  let where: Injection;
  if (injected >= 0) {
    nb.cells.splice(injected, 1, cell);
    where = 'replaced';
  } else if (declared >= 0) {
    nb.cells.splice(declared + 1, 0, cell);
    where = 'after-parameters';
  } else {
    nb.cells.unshift(cell);
    where = 'top';
  }
  return where;
}

/** A parameter as the `parameters` cell declares it, in papermill's shape (its Parameter tuple). */
export interface DeclaredParameter {
  name: string;
  inferred_type_name: string;
  default: string;
  help: string;
}

const DECLARATION = /^\s*(?:export\s+)?(?:const|let|var)\s+([\p{ID_Start}$_][\p{ID_Continue}$]*)\s*(?::\s*([^=]+?))?\s*=\s*(.+)$/u;

function inferredType(literal: string): string {
  try {
    const value: unknown = JSON.parse(literal);
    if (value === null) return 'None';
    if (Array.isArray(value)) return 'array';
    return typeof value;
  } catch {
    return 'None'; // papermill's word for "could not infer"
  }
}

/** The simple `const name[: type] = value; // help` lines of the `parameters` cell (its default_parameters). */
export function declaredParameters(nb: Notebook): Record<string, DeclaredParameter> {
  const cell = nb.cells.find((c) => tagsOf(c).includes('parameters'));
  const out: Record<string, DeclaredParameter> = {};
  for (const line of cell?.source.split('\n') ?? []) {
    const m = DECLARATION.exec(line);
    if (!m) continue;
    let rest = m[3].trim();
    let help = '';
    const comment = /;\s*\/\/\s?(.*)$/.exec(rest); // only after the statement's `;`: a URL's // stays in the value
    if (comment) {
      help = comment[1].trim();
      rest = rest.slice(0, comment.index);
    }
    const literal = rest.replace(/;\s*$/, '').trim();
    out[m[1]] = { name: m[1], inferred_type_name: m[2]?.trim() || inferredType(literal), default: literal, help };
  }
  return out;
}
