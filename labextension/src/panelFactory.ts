/**
 * Creates SQLRooms panels. Loaded on first use, so that the panel's React view
 * does not slow JupyterLab's start.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import type { ServerConnection } from '@jupyterlab/services';
import { UUID } from '@lumino/coreutils';
import type { IAppHost } from './appHost';
import { sqlroomsIcon } from './icon';
import type { IKernelDirectory } from './kernels';
import { SqlRoomsPanel } from './panel';
import { PanelModel, type IPanelServices } from './panelModel';
import type { ISqlRoomsApi } from './serverApi';

export type SqlRoomsMainArea = MainAreaWidget<SqlRoomsPanel>;

export interface IPanelFactoryOptions {
  settings: ServerConnection.ISettings;
  api: ISqlRoomsApi;
  kernels: IKernelDirectory;
  host: IAppHost;
}

export class SqlRoomsPanelFactory {
  constructor(options: IPanelFactoryOptions) {
    const { api, kernels, host } = options;
    this.api = api;
    this.host = host;
    this.services = {
      api,
      kernels,
      now: () => performance.now(),
      sleep: ms => new Promise(resolve => setTimeout(resolve, ms))
    };
  }

  /** A new panel bound to `kernelId` (or to no kernel yet), titled after it. */
  create(kernelId: string | null): SqlRoomsMainArea {
    const model = new PanelModel(this.services, kernelId);
    const widget = new MainAreaWidget({
      content: new SqlRoomsPanel(model, this.api, this.host)
    });
    widget.id = `sqlrooms-${UUID.uuid4()}`;
    widget.title.icon = sqlroomsIcon;
    widget.title.closable = true;
    const retitle = (): void => {
      const id = model.state.kernelId;
      const choice = model.state.kernels.find(kernel => kernel.id === id);
      widget.title.label = choice ? `SQLRooms: ${choice.label}` : 'SQLRooms';
      widget.title.caption = widget.title.label;
    };
    model.stateChanged.connect(retitle);
    retitle();
    return widget;
  }

  private readonly api: ISqlRoomsApi;
  private readonly host: IAppHost;
  private readonly services: IPanelServices;
}
