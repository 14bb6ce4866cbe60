/**
 * The SQLRooms main-area panel: a React view of a {@link PanelModel}, and the
 * polling that keeps its server status current.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';
import React from 'react';
import { SqlRoomsView } from './components/SqlRoomsView';
import type { IAppHost } from './appHost';
import type { PanelModel } from './panelModel';
import type { ISqlRoomsApi } from './serverApi';

/** How often the panel asks the server extension for status. */
export const STATUS_INTERVAL_MS = 5000;

export class SqlRoomsPanel extends ReactWidget {
  constructor(
    readonly model: PanelModel,
    private readonly api: ISqlRoomsApi,
    private readonly host: IAppHost
  ) {
    super();
    this.addClass('jp-SqlRooms');
    host.themeChanged?.connect(this.onThemeChanged, this);
    this.poll = new Poll({
      factory: () => this.refresh(),
      frequency: { interval: STATUS_INTERVAL_MS, backoff: true, max: 60_000 },
      standby: 'when-hidden',
      name: 'sqlrooms-jupyter:panel-status'
    });
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.host.themeChanged?.disconnect(this.onThemeChanged, this);
    this.poll.dispose();
    this.model.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    return (
      <SqlRoomsView
        model={this.model}
        kernelsWithServer={this.kernelsWithServer}
        host={this.host}
      />
    );
  }

  private onThemeChanged(): void {
    this.update();
  }

  private async refresh(): Promise<void> {
    const [servers] = await Promise.all([
      this.api.listKernelServers(),
      this.model.refreshStatus()
    ]);
    const ids = new Set(servers.map(server => server.kernel_id));
    if (!sameIds(ids, this.kernelsWithServer)) {
      this.kernelsWithServer = ids;
      this.update();
    }
  }

  private readonly poll: Poll;
  private kernelsWithServer: ReadonlySet<string> = new Set();
}

function sameIds(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every(id => b.has(id));
}
