// plotly.js for charts' text/html output, sent at most once per kernel session: the first chart's HTML carries
// the library inline (it defines window.Plotly), later charts only use window.Plotly. It is Plotly's "basic"
// partial bundle (scatter, bar and pie traces with the core layout: cartesian date/log/category axes, shapes,
// legends, unified hover): 1.2 MB in every executed notebook instead of the full bundle's 4.8 MB. Our figures use
// scatter and bar only; test/unit/plotly-bundle-traces.test.ts loads this bundle and fails if a figure needs
// more. The file is read lazily, when a chart first asks for it, and made safe to sit inside a <script> element.
import { readFileSync } from 'node:fs';

/** The npm package whose one file is the plotly.js that charts carry. */
export const PLOTLY_PACKAGE = 'plotly.js-basic-dist-min';

/** Fired on window once the inline library has run, so charts rendered before it can draw. */
export const PLOTLY_READY_EVENT = 'opsbook-plotly-ready';

/**
 * Inside <script>, the HTML parser ends the element at `</script` and changes state at `<!--` and `<script`.
 * Writing their `<` as `\x3C` keeps the same meaning where they can occur in JavaScript (string, template and
 * regular expression literals, comments) while the parser no longer sees them.
 */
export function scriptSafe(source: string): string {
  return source.replace(/<(?=\/?script|!--)/gi, '\\x3C');
}

/** The installed plotly.js file that charts carry. */
export function installedLibraryPath(): string {
  return require.resolve(PLOTLY_PACKAGE);
}

function readInstalledLibrary(): string {
  return readFileSync(installedLibraryPath(), 'utf8');
}

export class PlotlyLibrary {
  private source: string | undefined;
  private byteLength: number | undefined;
  private sent = false;
  private owner: string | undefined;

  /** `loadSource` returns the library's JavaScript; by default the installed PLOTLY_PACKAGE's file. */
  constructor(private readonly loadSource: () => string = readInstalledLibrary) {}

  /**
   * The `<script>` elements that load plotly.js and announce it, the first time; undefined after that.
   * `owner` (e.g. the cell id) lets the output that carried the library get it again when it is re-run, since
   * its new output replaces the old one and would otherwise leave the saved notebook without plotly.js.
   */
  scriptOnce(owner?: string): string | undefined {
    if (this.sent && (owner === undefined || owner !== this.owner)) return undefined;
    this.sent = true;
    this.owner = owner;
    const announce = `window.dispatchEvent(new Event(${JSON.stringify(PLOTLY_READY_EVENT)}));`;
    return `<script>${this.library()}\n</script><script>${announce}</script>`;
  }

  /** Forget that the library was sent (kernel restart, or the user cleared the chart that carried it). */
  reset(): void {
    this.sent = false;
    this.owner = undefined;
  }

  /** Whether a chart has carried the library since the last reset. */
  get alreadySent(): boolean {
    return this.sent;
  }

  /** Size in bytes (UTF-8) of the library as it goes into the page; reads it if not read yet. */
  get bytes(): number {
    this.byteLength ??= Buffer.byteLength(this.library(), 'utf8');
    return this.byteLength;
  }

  private library(): string {
    this.source ??= scriptSafe(this.loadSource());
    return this.source;
  }
}
