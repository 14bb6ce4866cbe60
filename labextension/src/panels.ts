/**
 * The open SQLRooms panels: one per kernel, created on demand. The code that
 * creates them is loaded on first use.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { WidgetTracker } from '@jupyterlab/apputils';
import type { ServerConnection } from '@jupyterlab/services';
import type { IAppHost } from './appHost';
import type { IKernelDirectory } from './kernels';
import type { SqlRoomsMainArea, SqlRoomsPanelFactory } from './panelFactory';
import type { ISqlRoomsApi } from './serverApi';

export interface ISqlRoomsPanelsOptions {
  shell: JupyterFrontEnd.IShell;
  settings: ServerConnection.ISettings;
  api: ISqlRoomsApi;
  kernels: IKernelDirectory;
  host: IAppHost;
  /** A panel's server started, stopped or failed. */
  onServerChanged(): void;
  /** Open panels, for the layout restorer (saved again when a panel changes kernel). */
  tracker?: WidgetTracker<SqlRoomsMainArea>;
}

export class SqlRoomsPanels {
  constructor(private readonly options: ISqlRoomsPanelsOptions) {}

  /** Shows the panel bound to `kernelId`, opening one if there is none. */
  async open(kernelId: string | null): Promise<SqlRoomsMainArea> {
    const factory = await this.factory();
    const existing = [...this.panels].find(
      panel => kernelId && panel.content.model.state.kernelId === kernelId
    );
    const widget = existing ?? this.add(factory.create(kernelId));
    this.options.shell.activateById(widget.id);
    return widget;
  }

  private add(widget: SqlRoomsMainArea): SqlRoomsMainArea {
    const model = widget.content.model;
    const tracker = this.options.tracker;
    let serverKind = model.state.server.kind;
    let kernelId = model.state.kernelId;
    model.stateChanged.connect((_model, state) => {
      if (state.server.kind !== serverKind) {
        serverKind = state.server.kind;
        this.options.onServerChanged();
      }
      if (state.kernelId !== kernelId) {
        kernelId = state.kernelId;
        void tracker?.save(widget);
      }
    });
    this.panels.add(widget);
    widget.disposed.connect(() => this.panels.delete(widget));
    this.options.shell.add(widget, 'main', { mode: 'split-right' });
    void tracker?.add(widget);
    return widget;
  }

  private async factory(): Promise<SqlRoomsPanelFactory> {
    if (!this._factory) {
      const { SqlRoomsPanelFactory } = await import('./panelFactory');
      const { settings, api, kernels, host } = this.options;
      this._factory ??= new SqlRoomsPanelFactory({
        settings,
        api,
        kernels,
        host
      });
    }
    return this._factory;
  }

  private readonly panels = new Set<SqlRoomsMainArea>();
  private _factory: SqlRoomsPanelFactory | null = null;
}
