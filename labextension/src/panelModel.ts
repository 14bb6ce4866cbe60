/**
 * The SQLRooms panel's state and behaviour, apart from its rendering: which
 * kernel it is bound to and whether that kernel runs a server. The framed app
 * does the querying; services come in through {@link IPanelServices}, so this
 * is tested with fakes.
 */
import type { IDisposable } from '@lumino/disposable';
import { Signal, type ISignal } from '@lumino/signaling';
import type { IKernelChoice, IKernelDirectory } from './kernels';
import type { IKernelServerStatus, ISqlRoomsApi } from './serverApi';

export interface IPanelServices {
  readonly api: ISqlRoomsApi;
  readonly kernels: IKernelDirectory;
  /** Milliseconds since some fixed point (`performance.now`). */
  now(): number;
  /** Waits, between checks for a server that is starting. */
  sleep(ms: number): Promise<void>;
}

export type ServerState =
  | { readonly kind: 'no-kernel' }
  | { readonly kind: 'checking' }
  | { readonly kind: 'absent' }
  | { readonly kind: 'starting' }
  | { readonly kind: 'running'; readonly status: IKernelServerStatus }
  | { readonly kind: 'error'; readonly message: string };

export interface IPanelState {
  readonly kernels: readonly IKernelChoice[];
  readonly kernelId: string | null;
  readonly server: ServerState;
}

/** How long "Start" waits for the server extension to see the new server. */
export const START_TIMEOUT_MS = 20_000;
const START_CHECK_INTERVAL_MS = 500;

export class PanelModel {
  constructor(
    private readonly services: IPanelServices,
    kernelId: string | null
  ) {
    this._state = {
      kernels: services.kernels.running(),
      kernelId: null,
      server: { kind: 'no-kernel' }
    };
    services.kernels.changed.connect(this.onKernelsChanged, this);
    void this.selectKernel(kernelId);
  }

  get state(): IPanelState {
    return this._state;
  }

  get stateChanged(): ISignal<PanelModel, IPanelState> {
    return this._stateChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Binds the panel to a kernel (or to none). */
  async selectKernel(kernelId: string | null): Promise<void> {
    if (this._isDisposed) {
      return;
    }
    this.update({
      kernelId,
      server: kernelId ? { kind: 'checking' } : { kind: 'no-kernel' }
    });
    // Asked once; again when the kernel says its server may have changed.
    this.watch?.dispose();
    this.watch = kernelId
      ? this.services.kernels.watch(kernelId, () => void this.refreshStatus())
      : null;
    if (kernelId) {
      await this.refreshStatus();
    }
  }

  /**
   * The kernels the server extension lists as running a server (a cheap list,
   * never a 404): asks about the bound kernel when it disagrees with its state,
   * e.g. a server started with `sqlrooms_jupyter.start()`, which prints nothing.
   */
  noticeListed(kernelIds: ReadonlySet<string>): void {
    const kernelId = this._state.kernelId;
    if (!kernelId) {
      return;
    }
    const kind = this._state.server.kind;
    const listed = kernelIds.has(kernelId);
    if (listed ? kind === 'absent' || kind === 'error' : kind === 'running') {
      void this.refreshStatus();
    }
  }

  /** Asks the server extension about the bound kernel. */
  async refreshStatus(): Promise<void> {
    const kernelId = this._state.kernelId;
    if (!kernelId || this._state.server.kind === 'starting') {
      return;
    }
    let status: IKernelServerStatus | null;
    try {
      status =
        this._state.server.kind === 'running'
          ? await this.services.api.kernelServerStatus(kernelId)
          : await this.listedStatus(kernelId);
    } catch (error) {
      if (kernelId === this._state.kernelId) {
        this.update({ server: { kind: 'error', message: messageOf(error) } });
      }
      return;
    }
    if (kernelId === this._state.kernelId) {
      this.applyStatus(status);
    }
  }

  /** Runs the start magics in the bound kernel, then waits for its server. */
  async startServer(): Promise<void> {
    const kernelId = this._state.kernelId;
    if (!kernelId || this._state.server.kind === 'starting') {
      return;
    }
    this.update({ server: { kind: 'starting' } });
    try {
      await this.services.kernels.startSqlRooms(kernelId);
      const status = await this.waitForServer(kernelId);
      if (kernelId !== this._state.kernelId) {
        return;
      }
      if (!status) {
        this.update({
          server: {
            kind: 'error',
            message:
              'The kernel ran the start magics, but no SQLRooms server appeared. ' +
              'Is the sqlrooms_jupyter server extension enabled?'
          }
        });
        return;
      }
      this.applyStatus(status);
    } catch (error) {
      if (kernelId === this._state.kernelId) {
        this.update({ server: { kind: 'error', message: messageOf(error) } });
      }
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.watch?.dispose();
    Signal.clearData(this);
  }

  private applyStatus(status: IKernelServerStatus | null): void {
    this.update({
      server: status ? { kind: 'running', status } : { kind: 'absent' }
    });
  }

  private async waitForServer(
    kernelId: string
  ): Promise<IKernelServerStatus | null> {
    const deadline = this.services.now() + START_TIMEOUT_MS;
    for (;;) {
      const status = await this.listedStatus(kernelId);
      if (status || this.services.now() >= deadline || this._isDisposed) {
        return status;
      }
      await this.services.sleep(START_CHECK_INTERVAL_MS);
    }
  }

  /**
   * The status of a kernel's server, asking the list of kernels with a server
   * first: the status of a kernel without one is a 404 in Jupyter's log.
   */
  private async listedStatus(
    kernelId: string
  ): Promise<IKernelServerStatus | null> {
    const servers = await this.services.api.listKernelServers();
    return servers.some(server => server.kernel_id === kernelId)
      ? this.services.api.kernelServerStatus(kernelId)
      : null;
  }

  private onKernelsChanged(): void {
    this.update({ kernels: this.services.kernels.running() });
  }

  private update(change: Partial<IPanelState>): void {
    if (this._isDisposed) {
      return;
    }
    this._state = { ...this._state, ...change };
    this._stateChanged.emit(this._state);
  }

  private _state: IPanelState;
  private _isDisposed = false;
  private watch: IDisposable | null = null;
  private readonly _stateChanged = new Signal<PanelModel, IPanelState>(this);
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
