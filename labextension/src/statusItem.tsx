/**
 * Status bar item: whether the active notebook's kernel runs a SQLRooms
 * server, and how many apps are connected to it. It polls only a running
 * server (for the count); a kernel without one is asked once, then again when
 * the kernel says something changed (`%sqlrooms start`, a restart).
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import type { IDisposable } from '@lumino/disposable';
import React from 'react';
import type { ActiveKernelTracker } from './activeKernel';
import type { IKernelDirectory } from './kernels';
import { RunningPoll } from './runningPoll';
import type { IKernelServerStatus, ISqlRoomsApi } from './serverApi';
import { summarize, summaryText, summaryTitle } from './statusSummary';

export const STATUS_BAR_INTERVAL_MS = 3000;

export class SqlRoomsStatusItem extends ReactWidget {
  constructor(
    private readonly tracker: ActiveKernelTracker,
    private readonly api: ISqlRoomsApi,
    private readonly kernels: IKernelDirectory,
    private readonly onOpen: () => void
  ) {
    super();
    this.addClass('jp-SqlRooms-statusItem');
    this.poll = new RunningPoll(() => this.refresh(), STATUS_BAR_INTERVAL_MS);
    tracker.changed.connect(this.onKernelChanged, this);
    this.onKernelChanged();
  }

  /** Whether the status bar should show the item. */
  get hasKernel(): boolean {
    return this.tracker.kernelId !== null;
  }

  /** Asks again now, e.g. because a panel just started or lost a server. */
  refreshNow(): void {
    this.poll.refresh();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.tracker.changed.disconnect(this.onKernelChanged, this);
    this.watch?.dispose();
    this.poll.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    const summary = summarize(this.tracker.kernelId, this.status);
    return (
      <button
        className="jp-SqlRooms-statusButton"
        data-state={summary.kind}
        title={summaryTitle(summary)}
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
    const kernelId = this.tracker.kernelId;
    if (kernelId !== this.watchedKernelId) {
      this.watch?.dispose();
      this.watchedKernelId = kernelId;
      this.watch = kernelId
        ? this.kernels.watch(kernelId, () => this.refreshNow())
        : null;
    }
    this.status = undefined;
    this.update();
    this.refreshNow();
  }

  /** Asks about the active kernel; true (poll on) while its server runs. */
  private async refresh(): Promise<boolean> {
    const kernelId = this.tracker.kernelId;
    const status = kernelId ? await this.statusOf(kernelId) : null;
    if (kernelId === this.tracker.kernelId) {
      this.status = status;
      this.update();
    }
    return status !== null;
  }

  /**
   * The server's status, or null. Unless it was running, the list of kernels
   * with a server is asked first: the status of a kernel without one is a 404,
   * which Jupyter logs as a warning.
   */
  private async statusOf(
    kernelId: string
  ): Promise<IKernelServerStatus | null> {
    if (!this.status) {
      const servers = await this.api.listKernelServers();
      if (!servers.some(server => server.kernel_id === kernelId)) {
        return null;
      }
    }
    return this.api.kernelServerStatus(kernelId);
  }

  private readonly poll: RunningPoll;
  private watch: IDisposable | null = null;
  private watchedKernelId: string | null = null;
  /** `undefined` until the first answer for the current kernel. */
  private status: IKernelServerStatus | null | undefined = undefined;
}
