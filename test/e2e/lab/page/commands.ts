// The page's commands, toolbar buttons and key bindings, named as in JupyterLab (notebook:run-all-cells,
// notebook:interrupt-kernel, notebook:restart-kernel, ...), so a test clicks the button a person would
// (`[data-command="notebook:interrupt-kernel"]`). Each runs through NotebookActions or the session context, as
// JupyterLab's own notebook plugin does; restart asks for confirmation in JupyterLab's dialog.
import { CommandToolbarButton, type ISessionContext } from '@jupyterlab/apputils';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import { NotebookActions, type NotebookPanel } from '@jupyterlab/notebook';
import { addIcon, fastForwardIcon, refreshIcon, runIcon, saveIcon, stopIcon, type LabIcon } from '@jupyterlab/ui-components';
import type { CommandRegistry } from '@lumino/commands';

interface PageCommand {
  id: string;
  caption: string;
  icon: LabIcon;
  keys?: string[];
  execute(panel: NotebookPanel, dialogs: ISessionContext.IDialogs): Promise<unknown> | void;
}

const PAGE_COMMANDS: PageCommand[] = [
  { id: 'notebook:save', caption: 'Save', icon: saveIcon, keys: ['Accel S'], execute: (panel) => panel.context.save() },
  { id: 'notebook:insert-cell-below', caption: 'Insert a cell below', icon: addIcon, execute: (panel) => NotebookActions.insertBelow(panel.content) },
  {
    id: 'notebook:run-cell-and-select-next',
    caption: 'Run this cell and advance',
    icon: runIcon,
    keys: ['Shift Enter'],
    execute: (panel, dialogs) => NotebookActions.runAndAdvance(panel.content, panel.sessionContext, dialogs),
  },
  {
    id: 'notebook:run-cell',
    caption: 'Run this cell',
    icon: runIcon,
    keys: ['Accel Enter'],
    execute: (panel, dialogs) => NotebookActions.run(panel.content, panel.sessionContext, dialogs),
  },
  { id: 'notebook:run-all-cells', caption: 'Run all cells', icon: fastForwardIcon, execute: (panel, dialogs) => NotebookActions.runAll(panel.content, panel.sessionContext, dialogs) },
  { id: 'notebook:interrupt-kernel', caption: 'Interrupt the kernel', icon: stopIcon, execute: (panel) => panel.sessionContext.session?.kernel?.interrupt() },
  { id: 'notebook:restart-kernel', caption: 'Restart the kernel', icon: refreshIcon, execute: (panel, dialogs) => dialogs.restart(panel.sessionContext) },
];

/** The buttons on the notebook's toolbar, in this order. */
const TOOLBAR = ['notebook:save', 'notebook:insert-cell-below', 'notebook:run-cell-and-select-next', 'notebook:run-all-cells', 'notebook:interrupt-kernel', 'notebook:restart-kernel'];

export function addNotebookCommands(commands: CommandRegistry, panel: NotebookPanel, dialogs: ISessionContext.IDialogs): void {
  for (const command of PAGE_COMMANDS) {
    commands.addCommand(command.id, {
      label: (args) => (args.toolbar ? '' : command.caption),
      caption: command.caption,
      icon: command.icon,
      execute: () => command.execute(panel, dialogs),
    });
    for (const keys of command.keys ?? []) commands.addKeyBinding({ command: command.id, keys: [keys], selector: '.jp-Notebook' });
  }
}

export function toolbarItems(commands: CommandRegistry): DocumentRegistry.IToolbarItem[] {
  return TOOLBAR.map((id) => ({ name: id, widget: new CommandToolbarButton({ commands, id, args: { toolbar: true } }) }));
}
