// How many copies of the plotly.js that charts carry a page or a saved notebook holds, and their bytes: found by
// the banner comment at the top of the installed file (e.g. "* plotly.js (basic - minified) v4.1.1"), read from
// the package the kernel sends, so the count follows whichever Plotly bundle magics/plotly-library.ts names.
import { readFileSync } from 'node:fs';
import { installedLibraryPath } from '../../magics/plotly-library';

/** The banner line of the installed library, without its leading "* ". */
export function plotlyBanner(): string {
  const source = readFileSync(installedLibraryPath(), 'utf8');
  const banner = /^\* (plotly\.js\b.* v\d+\.\d+\.\d+)$/m.exec(source.slice(0, 500))?.[1];
  if (banner === undefined) throw new Error(`no "* plotly.js … vX.Y.Z" banner at the top of ${installedLibraryPath()}`);
  return banner;
}

/** Copies of the library in `text` (HTML, or a notebook's JSON). */
export function plotlyCopies(text: string): number {
  return text.split(plotlyBanner()).length - 1;
}
