/**
 * JupyterLab plugins: the "Open SQLRooms" command, its notebook toolbar
 * button and palette entry, and the status bar item.
 */
import {
  ILabShell,
  ILayoutRestorer,
  type JupyterFrontEnd,
  type JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  IThemeManager,
  ToolbarButton,
  WidgetTracker
} from '@jupyterlab/apputils';
import type {
  DocumentRegistry,
  IDocumentWidget
} from '@jupyterlab/docregistry';
import { ServerConnection } from '@jupyterlab/services';
import { IStatusBar } from '@jupyterlab/statusbar';
import { DisposableDelegate, type IDisposable } from '@lumino/disposable';
import { ActiveKernelTracker, sessionContextOf } from './activeKernel';
import { NotebookCellInserter } from './insertCell';
import { NotebookAppState } from './notebookState';
import { sqlroomsIcon } from './icon';
import { KernelDirectory } from './kernels';
import type { SqlRoomsMainArea } from './panelFactory';
import { SqlRoomsPanels } from './panels';
import { SqlRoomsApi } from './serverApi';
// The status bar item shows as JupyterLab starts: activation needs it at once.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { SqlRoomsStatusItem } from './statusItem';

const PLUGIN_ID = 'sqlrooms-jupyter:plugin';

export namespace CommandIDs {
  export const open = 'sqlrooms:open';
}

/** The kernel to bind the panel to; the active notebook's when missing. */
type OpenArgs = { kernelId?: string };

function openArgs(kernelId: string | null | undefined): OpenArgs {
  return kernelId ? { kernelId } : {};
}

function activate(
  app: JupyterFrontEnd,
  labShell: ILabShell | null,
  palette: ICommandPalette | null,
  statusBar: IStatusBar | null,
  themeManager: IThemeManager | null,
  restorer: ILayoutRestorer | null
): void {
  const settings = ServerConnection.makeSettings();
  const api = new SqlRoomsApi(settings);
  const kernels = new KernelDirectory(app.serviceManager);
  const activeKernel = new ActiveKernelTracker(
    labShell,
    app.shell.currentWidget
  );
  const statusItem = statusBar
    ? new SqlRoomsStatusItem(activeKernel, api, kernels, () => {
        void app.commands.execute(
          CommandIDs.open,
          openArgs(activeKernel.kernelId)
        );
      })
    : null;
  const tracker = new WidgetTracker<SqlRoomsMainArea>({
    namespace: 'sqlrooms'
  });
  const inserter = new NotebookCellInserter(app);
  const notebookState = new NotebookAppState(inserter);
  const panels = new SqlRoomsPanels({
    shell: app.shell,
    settings,
    api,
    kernels,
    host: {
      baseUrl: settings.baseUrl,
      theme: () =>
        !themeManager?.theme || themeManager.isLight(themeManager.theme)
          ? 'light'
          : 'dark',
      themeChanged: themeManager?.themeChanged ?? null,
      insertCell: (kernelId, code) => {
        inserter.insert(kernelId, code);
      },
      loadState: kernelId => notebookState.load(kernelId),
      saveState: (kernelId, state) => notebookState.save(kernelId, state)
    },
    onServerChanged: () => statusItem?.refreshNow(),
    tracker
  });
  // Open panels come back after a reload, bound to the same kernels.
  void restorer?.restore(tracker, {
    command: CommandIDs.open,
    args: panel => openArgs(boundKernel(panel)),
    name: panel => boundKernel(panel) ?? 'no-kernel'
  });

  app.commands.addCommand(CommandIDs.open, {
    label: 'Open SQLRooms',
    caption: "Query the kernel's DuckDB tables and shared dataframes",
    icon: sqlroomsIcon,
    describedBy: {
      args: {
        type: 'object',
        properties: {
          kernelId: {
            type: 'string',
            description:
              "The kernel to query; the active notebook's kernel when missing"
          }
        }
      }
    },
    execute: args => {
      const { kernelId } = args as OpenArgs;
      const current = sessionContextOf(app.shell.currentWidget);
      return panels.open(
        kernelId ?? current?.session?.kernel?.id ?? activeKernel.kernelId
      );
    }
  });
  palette?.addItem({ command: CommandIDs.open, category: 'SQLRooms' });

  app.docRegistry.addWidgetExtension(
    'Notebook',
    new NotebookToolbarButton(app)
  );

  if (statusBar && statusItem) {
    statusBar.registerStatusItem(PLUGIN_ID, {
      item: statusItem,
      align: 'left',
      rank: 4,
      isActive: () => statusItem.hasKernel,
      activeStateChanged: activeKernel.changed
    });
  }
}

function boundKernel(panel: SqlRoomsMainArea): string | null {
  return panel.content.model.state.kernelId;
}

/** "SQLRooms" in every notebook's toolbar, bound to that notebook's kernel. */
class NotebookToolbarButton implements DocumentRegistry.IWidgetExtension<
  IDocumentWidget,
  DocumentRegistry.IModel
> {
  constructor(private readonly app: JupyterFrontEnd) {}

  createNew(
    panel: IDocumentWidget,
    context: DocumentRegistry.IContext<DocumentRegistry.IModel>
  ): IDisposable {
    const button = new ToolbarButton({
      icon: sqlroomsIcon,
      label: 'SQLRooms',
      className: 'jp-SqlRooms-toolbarButton',
      tooltip:
        "Open SQLRooms: query this kernel's tables and shared dataframes",
      onClick: () => {
        void this.app.commands.execute(
          CommandIDs.open,
          openArgs(context.sessionContext.session?.kernel?.id)
        );
      }
    });
    panel.toolbar.insertItem(10, 'sqlrooms', button);
    return new DisposableDelegate(() => button.dispose());
  }
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    "SQLRooms panel: browse and query a kernel's DuckDB tables and shared dataframes.",
  autoStart: true,
  optional: [
    ILabShell,
    ICommandPalette,
    IStatusBar,
    IThemeManager,
    ILayoutRestorer
  ],
  activate
};

export default plugin;
