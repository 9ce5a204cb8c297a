// Input history of this kernel session for history_request (tail, range, search). In memory for now.
export interface HistoryEntry {
  session: number;
  line: number;
  input: string;
  /** text/plain of the line's execute_result, when it had one. */
  output?: string;
}

/**
 * IPython-style glob over the whole input (`*` any run, `?` one character), matched without backtracking
 * blow-up: the classic two-pointer wildcard match, O(pattern x input) at worst. A regex built from a
 * pattern like `*a*a*a...b` would take exponential time on the protocol thread.
 */
export function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === text[t])) {
      p += 1;
      t += 1;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p;
      resume = t;
      p += 1;
    } else if (star >= 0) {
      p = star + 1;
      resume += 1;
      t = resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p += 1;
  return p === pattern.length;
}

export class History {
  private readonly entries: HistoryEntry[] = [];
  constructor(readonly session = 1) {}

  add(line: number, input: string): void {
    this.entries.push({ session: this.session, line, input });
  }

  recordOutput(line: number, output: string): void {
    const entry = this.entries.findLast((e) => e.line === line);
    if (entry) entry.output = output;
  }

  /** Rows as the spec wants them: (session, line, input), or (session, line, (input, output)) with `output`. */
  query(content: Record<string, unknown>): Array<[number, number, string | [string, string | null]]> {
    const n = typeof content.n === 'number' ? content.n : undefined;
    let rows = this.entries;
    switch (content.hist_access_type) {
      case 'range': {
        const start = typeof content.start === 'number' ? content.start : 0;
        const stop = typeof content.stop === 'number' ? content.stop : Infinity;
        rows = rows.filter((e) => e.line >= start && e.line < stop);
        break;
      }
      case 'search': {
        const pattern = typeof content.pattern === 'string' ? content.pattern : '*';
        rows = rows.filter((e) => globMatch(pattern, e.input));
        if (content.unique) {
          const seen = new Set<string>();
          rows = [...rows].reverse().filter((e) => !seen.has(e.input) && seen.add(e.input) !== undefined).reverse();
        }
        if (n !== undefined) rows = rows.slice(-n);
        break;
      }
      default:
        if (n !== undefined) rows = rows.slice(-n);
    }
    if (content.output === true) return rows.map((e) => [e.session, e.line, [e.input, e.output ?? null]]);
    return rows.map((e) => [e.session, e.line, e.input]);
  }
}
