// Builds the JupyterLab test page into dist/ (index.html, bundle.js, bundle.css) with esbuild; `--check` also
// type-checks the page first (tsc -p page). What JupyterLab's packages need from a bundler, besides TypeScript:
// - svg imported from JavaScript as raw text (LabIcon), but from CSS as a data URL;
// - CSS `@import url('~pkg/...')` (webpack's "from node_modules") resolved as a package path;
// - `process` (injected from page/shims.ts) and `global` (globalThis) defined;
// - jupyterlab-plotly loads plotly.js with `import("plotly.js/dist/plotly")` and calls `.react` on what it gets:
//   webpack hands a CommonJS module's exports there, esbuild a namespace holding them only as `default`, so that one
//   import is served by a small ES module that re-exports the CommonJS exports' members (plotly-interop).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
// served by the Notebook server as /static/opsbook-lab/ (extra_static_paths=[dist])
const dist = path.join(here, 'dist', 'opsbook-lab');
const require = createRequire(import.meta.url);

/** `~pkg/file.css` in CSS: the package path without the tilde. */
const tildeImports = {
  name: 'tilde-imports',
  setup(b) {
    b.onResolve({ filter: /^~/ }, (args) => b.resolve(args.path.slice(1), { kind: args.kind, resolveDir: args.resolveDir }));
  },
};

/** svg from CSS (url(...) or @import) as a data URL; from JavaScript, the default text loader applies. */
const svgInCss = {
  name: 'svg-in-css',
  setup(b) {
    b.onResolve({ filter: /\.svg(\?.*)?$/ }, async (args) => {
      if (args.kind !== 'url-token' || args.namespace === 'svg-data-url') return undefined;
      const file = args.path.replace(/\?.*$/, '');
      // a bare url(icons/x.svg) is relative to the stylesheet, as in a browser
      const relative = path.resolve(args.resolveDir, file);
      if (!file.startsWith('~') && existsSync(relative)) return { path: relative, namespace: 'svg-data-url' };
      const resolved = await b.resolve(file.replace(/^~/, ''), { kind: 'import-statement', resolveDir: args.resolveDir });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      return { path: resolved.path, namespace: 'svg-data-url' };
    });
    b.onLoad({ filter: /.*/, namespace: 'svg-data-url' }, async (args) => {
      const { readFile } = await import('node:fs/promises');
      return { contents: await readFile(args.path), loader: 'dataurl' };
    });
  },
};

/** `import("plotly.js/dist/plotly")` gets an ES module whose named exports are plotly.js's own members. */
const plotlyInterop = {
  name: 'plotly-interop',
  setup(b) {
    b.onResolve({ filter: /^plotly\.js\/dist\/plotly$/ }, (args) => (args.pluginData === 'real' ? undefined : { path: 'plotly-interop', namespace: 'plotly-interop', pluginData: args.resolveDir }));
    b.onLoad({ filter: /.*/, namespace: 'plotly-interop' }, (args) => {
      const plotlyFile = require.resolve('plotly.js/dist/plotly', { paths: [args.pluginData ?? here] });
      return {
        contents: [
          `const Plotly = require(${JSON.stringify(plotlyFile)});`,
          'export const react = (...a) => Plotly.react(...a), addFrames = (...a) => Plotly.addFrames(...a),',
          '  toImage = (...a) => Plotly.toImage(...a), redraw = (...a) => Plotly.redraw(...a), Plots = Plotly.Plots;',
          'export default Plotly;',
        ].join('\n'),
        loader: 'js',
        resolveDir: here,
      };
    });
  },
};

if (process.argv.includes('--check')) {
  const started = Date.now();
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(here, 'page')], { stdio: 'inherit' });
  console.log(`type-checked the page in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

const started = Date.now();
rmSync(path.dirname(dist), { recursive: true, force: true });
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: { bundle: path.join(here, 'page', 'index.ts') },
  outdir: dist,
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'chrome120',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  define: { global: 'globalThis', 'process.env.NODE_ENV': '"production"' },
  inject: [path.join(here, 'page', 'shims.ts')],
  loader: { '.svg': 'text', '.png': 'dataurl', '.gif': 'dataurl', '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl', '.eot': 'dataurl', '.md': 'text', '.html': 'text' },
  plugins: [tildeImports, svgInCss, plotlyInterop],
});
copyFileSync(path.join(here, 'page', 'index.html'), path.join(dist, 'index.html'));
const size = (file) => `${(statSync(path.join(dist, file)).size / 1e6).toFixed(1)} MB`;
console.log(`built the JupyterLab test page in ${((Date.now() - started) / 1000).toFixed(1)} s: dist/opsbook-lab/bundle.js ${size('bundle.js')}, bundle.css ${size('bundle.css')}`);
