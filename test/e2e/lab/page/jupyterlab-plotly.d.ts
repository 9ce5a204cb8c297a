// Types for the one module of jupyterlab-plotly the page imports (the package ships JavaScript only): its mime
// extension, the list of IRenderMime.IExtension that JupyterLab reads from a package's `jupyterlab.mimeExtension`.
declare module 'jupyterlab-plotly/lib/plotly-renderer' {
  import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
  const extensions: IRenderMime.IExtension[];
  export default extensions;
}
