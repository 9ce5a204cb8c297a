// Cursor positions: the messaging spec counts Unicode code points, JavaScript strings count UTF-16 code
// units; these helpers convert between the two.

/** UTF-16 offset of a code-point cursor (clamped to the code). */
export function codeUnitOffset(code: string, cursor: number): number {
  return locate(code, cursor).units;
}

/** The cursor clamped to the code, in UTF-16 units and in code points. */
export function locate(code: string, cursor: number): { units: number; points: number } {
  let units = 0;
  let points = 0;
  if (!(cursor > 0)) return { units, points };
  for (const ch of code) {
    if (points >= cursor) break;
    units += ch.length;
    points += 1;
  }
  return { units, points };
}

export function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n += 1;
  return n;
}
