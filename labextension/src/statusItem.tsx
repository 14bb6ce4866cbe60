/**
 * Status bar item: whether the active notebook's kernel runs a SQLRooms
 * server, and how many clients are connected to it.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';
import React from 'react';
import type { ActiveKernelTracker } from './activeKernel';
import type { IKernelServerStatus, ISqlRoomsApi } from './serverApi';
import { summarize, summaryText } from './statusSummary';

export const STATUS_BAR_INTERVAL_MS = 3000;

export class SqlRoomsStatusItem extends ReactWidget {
  constructor(
    private readonly tracker: ActiveKernelTracker,
    private readonly api: ISqlRoomsApi,
    private readonly onOpen: () => void
  ) {
    super();
    this.addClass('jp-SqlRooms-statusItem');
    this.poll = new Poll({
      factory: () => this.refresh(),
      frequency: {
        interval: STATUS_BAR_INTERVAL_MS,
        backoff: true,
        max: 60_000
      },
      standby: 'when-hidden',
      name: 'sqlrooms-jupyter:status-bar'
    });
    tracker.changed.connect(this.onKernelChanged, this);
  }

  /** Whether the status bar should show the item. */
  get hasKernel(): boolean {
    return this.tracker.kernelId !== null;
  }

  /** Asks again now, e.g. because a panel just started or lost a server. */
  refreshNow(): void {
    void this.poll.refresh();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.tracker.changed.disconnect(this.onKernelChanged, this);
    this.poll.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    const summary = summarize(this.tracker.kernelId, this.status);
    return (
      <button
        className="jp-SqlRooms-statusButton"
        data-state={summary.kind}
        title="Open SQLRooms for this kernel"
        onClick={this.onOpen}
      >
        <span
          className={`jp-SqlRooms-dot${summary.kind === 'running' ? ' jp-mod-running' : ''}`}
        />
        {summaryText(summary)}
      </button>
    );
  }

  private onKernelChanged(): void {
    this.status = undefined;
    this.update();
    this.refreshNow();
  }

  private async refresh(): Promise<void> {
    const kernelId = this.tracker.kernelId;
    const status = kernelId
      ? await this.api.kernelServerStatus(kernelId)
      : null;
    if (kernelId === this.tracker.kernelId) {
      this.status = status;
      this.update();
    }
  }

  private readonly poll: Poll;
  /** `undefined` until the first answer for the current kernel. */
  private status: IKernelServerStatus | null | undefined = undefined;
}
