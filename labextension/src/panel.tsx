/**
 * The SQLRooms main-area panel: a React view of a {@link PanelModel}, and the
 * polling of the list of kernels with a server (the kernel picker's marks; it
 * also catches a server started from Python, which the kernel does not announce).
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import React from 'react';
import { RunningPoll } from './runningPoll';
import { SqlRoomsView } from './components/SqlRoomsView';
import type { IAppHost } from './appHost';
import type { PanelModel } from './panelModel';
import type { ISqlRoomsApi } from './serverApi';

/** How often the panel asks the server extension which kernels run a server. */
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
    this.poll = new RunningPoll(() => this.refresh(), STATUS_INTERVAL_MS);
    this.poll.refresh();
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

  private async refresh(): Promise<boolean> {
    const servers = await this.api.listKernelServers();
    const ids = new Set(servers.map(server => server.kernel_id));
    if (!sameIds(ids, this.kernelsWithServer)) {
      this.kernelsWithServer = ids;
      this.update();
    }
    this.model.noticeListed(ids);
    return true;
  }

  private readonly poll: RunningPoll;
  private kernelsWithServer: ReadonlySet<string> = new Set();
}

function sameIds(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every(id => b.has(id));
}
