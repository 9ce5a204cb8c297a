// The page's CSS: JupyterLab's light theme (its CSS variables), the notebook (which imports the styles of cells,
// output areas, rendermime, codemirror, toolbars and dialogs), and a little layout so the notebook fills the window.
import '@jupyterlab/theme-light-extension/style/theme.css';
import '@jupyterlab/theme-light-extension/style/variables.css';
import '@jupyterlab/notebook/style/index.css';
import './page.css';
