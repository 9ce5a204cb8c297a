// The test page: JupyterLab's own notebook frontend (NotebookPanel through a DocumentManager, CodeCell.execute,
// OutputArea with rendermime's standard factories, the stdin widget, a toolbar with run, run all, interrupt,
// restart and save), opened on one notebook of a classic Notebook server that serves this page from the same origin.
// The URL query says which notebook (`notebook=`), the server's token (`token=`, sent in an Authorization header;
// the websocket cannot carry a header, so the token rides on its URL) and whether to register the jupyterlab-plotly
// mime extension the way JupyterLab registers a mime extension (`plotly=1`). `window.opsbookLab` exposes the panel
// for the tests to read (never to run anything: they use the toolbar and the keyboard).
import './style';

import type { IYText } from '@jupyter/ydoc';
import { SessionContextDialogs, Toolbar as AppToolbar } from '@jupyterlab/apputils';
import {
  CodeMirrorEditorFactory,
  CodeMirrorMimeTypeService,
  EditorExtensionRegistry,
  EditorLanguageRegistry,
  EditorThemeRegistry,
  ybinding,
} from '@jupyterlab/codemirror';
import { PageConfig } from '@jupyterlab/coreutils';
import { DocumentManager } from '@jupyterlab/docmanager';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { createMarkdownParser } from '@jupyterlab/markedparser-extension';
import { NotebookModelFactory, NotebookPanel, NotebookWidgetFactory, StaticNotebook } from '@jupyterlab/notebook';
import { RenderMimeRegistry, standardRendererFactories } from '@jupyterlab/rendermime';
import { ServerConnection, ServiceManager } from '@jupyterlab/services';
import { CommandRegistry } from '@lumino/commands';
import { Widget } from '@lumino/widgets';
import plotlyExtensions from 'jupyterlab-plotly/lib/plotly-renderer';

import { addNotebookCommands, toolbarItems } from './commands';

/** What the tests read from the page. */
interface OpsbookLab {
  panel: NotebookPanel;
  plotlyExtension: boolean;
  /** Resolves once the notebook is loaded and its kernel is ready. */
  ready: Promise<void>;
}

const query = new URLSearchParams(window.location.search);
const notebookPath = query.get('notebook') ?? 'quickstart.ipynb';
const withPlotlyExtension = query.get('plotly') === '1';

function serverSettings(): ServerConnection.ISettings {
  const baseUrl = `${window.location.origin}/`;
  PageConfig.setOption('baseUrl', baseUrl);
  PageConfig.setOption('wsUrl', `ws${baseUrl.slice(4)}`);
  return ServerConnection.makeSettings({ baseUrl, token: query.get('token') ?? '', appendToken: true });
}

/** Rendermime with the standard factories, plus the Plotly mime extension when asked for. */
function rendermimeFor(languages: EditorLanguageRegistry): RenderMimeRegistry {
  const rendermime = new RenderMimeRegistry({ initialFactories: standardRendererFactories, markdownParser: createMarkdownParser(languages) });
  if (withPlotlyExtension) {
    // JupyterLab's rendermime plugin does this for every IRenderMime.IExtension a mime extension exports
    for (const extension of plotlyExtensions) rendermime.addFactory(extension.rendererFactory, extension.rank ?? 100);
  }
  return rendermime;
}

/** CodeMirror with JupyterLab's default extensions and themes, bound to each cell's shared model (typing edits the model). */
function editorFactory(languages: EditorLanguageRegistry): CodeMirrorEditorFactory {
  const themes = new EditorThemeRegistry();
  for (const theme of EditorThemeRegistry.getDefaultThemes()) themes.addTheme(theme);
  const extensions = new EditorExtensionRegistry();
  for (const extension of EditorExtensionRegistry.getDefaultExtensions({ themes })) extensions.addExtension(extension);
  extensions.addExtension({
    name: 'shared-model-binding',
    factory: (options) => {
      const shared = options.model.sharedModel as IYText;
      return EditorExtensionRegistry.createImmutableExtension(ybinding({ ytext: shared.ysource, undoManager: shared.undoManager ?? undefined }));
    },
  });
  return new CodeMirrorEditorFactory({ extensions, languages });
}

async function main(): Promise<void> {
  const manager = new ServiceManager({ serverSettings: serverSettings() });
  await manager.ready;
  const commands = new CommandRegistry();
  document.addEventListener('keydown', (event) => commands.processKeydownEvent(event), true);

  const languages = new EditorLanguageRegistry();
  for (const language of EditorLanguageRegistry.getDefaultLanguages()) languages.addLanguage(language);
  const rendermime = rendermimeFor(languages);
  const dialogs = new SessionContextDialogs();

  const registry = new DocumentRegistry();
  const opener = { open: () => undefined, get opened() { return { connect: () => false, disconnect: () => false }; } };
  const documents = new DocumentManager({ registry, manager, opener });
  registry.addModelFactory(new NotebookModelFactory({}));
  registry.addWidgetFactory(
    new NotebookWidgetFactory({
      name: 'Notebook',
      modelName: 'notebook',
      fileTypes: ['notebook'],
      defaultFor: ['notebook'],
      preferKernel: true,
      canStartKernel: true,
      rendermime,
      contentFactory: new NotebookPanel.ContentFactory({ editorFactory: editorFactory(languages).newInlineEditor }),
      mimeTypeService: new CodeMirrorMimeTypeService(languages),
      toolbarFactory: (panel) => [
        ...toolbarItems(commands),
        { name: 'kernelName', widget: AppToolbar.createKernelNameItem(panel.sessionContext, dialogs) },
        { name: 'kernelStatus', widget: AppToolbar.createKernelStatusItem(panel.sessionContext) },
      ],
      notebookConfig: { ...StaticNotebook.defaultNotebookConfig, windowingMode: 'none' },
    }),
  );

  const panel = documents.open(notebookPath) as NotebookPanel | undefined;
  if (!panel) throw new Error(`could not open ${notebookPath}`);
  panel.id = 'main';
  addNotebookCommands(commands, panel, dialogs);
  Widget.attach(panel, document.body);
  window.addEventListener('resize', () => panel.update());

  const ready = (async () => {
    await panel.context.ready;
    await panel.sessionContext.ready;
  })();
  (window as unknown as { opsbookLab: OpsbookLab }).opsbookLab = { panel, plotlyExtension: withPlotlyExtension, ready };
}

window.addEventListener('load', () => {
  main().catch((error: unknown) => {
    document.body.textContent = `the JupyterLab test page failed to start: ${error instanceof Error ? error.message : String(error)}`;
    throw error;
  });
});
