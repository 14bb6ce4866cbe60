import { DisposableDelegate, type IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { IKernelChoice, IKernelDirectory } from '../kernels';
import {
  PanelModel,
  START_TIMEOUT_MS,
  type IPanelServices
} from '../panelModel';
import type {
  IKernelServerStatus,
  IKernelServerSummary,
  ISqlRoomsApi
} from '../serverApi';

const KERNEL = 'kernel-1';

function serverStatus(shared: string[] = []): IKernelServerStatus {
  return {
    kernel_id: KERNEL,
    url: 'ws://127.0.0.1:4000/',
    uptime_seconds: 1,
    database: ':memory:',
    connections: 0,
    queries: [],
    channels: {},
    sync: false,
    shared
  };
}

class FakeKernels implements IKernelDirectory {
  kernels: IKernelChoice[] = [{ id: KERNEL, label: 'analysis.ipynb' }];
  readonly changed: Signal<IKernelDirectory, void> = new Signal(this);
  start: (kernelId: string) => Promise<void> = async () => undefined;
  /** The watchers of each kernel: call them as the kernel would signal. */
  readonly watchers = new Map<string, Set<() => void>>();

  running(): IKernelChoice[] {
    return this.kernels;
  }

  startSqlRooms(kernelId: string): Promise<void> {
    return this.start(kernelId);
  }

  watch(kernelId: string, onChange: () => void): IDisposable {
    const set = this.watchers.get(kernelId) ?? new Set();
    this.watchers.set(kernelId, set);
    set.add(onChange);
    return new DisposableDelegate(() => set.delete(onChange));
  }

  signal(kernelId: string): void {
    this.watchers.get(kernelId)?.forEach(onChange => onChange());
  }
}

class FakeApi implements ISqlRoomsApi {
  status: IKernelServerStatus | null = null;
  /** Status requests: each one for a kernel without a server is a 404 in Jupyter's log. */
  statusRequests = 0;
  listRequests = 0;
  async listKernelServers(): Promise<IKernelServerSummary[]> {
    this.listRequests++;
    const status = await this.kernelServerStatus();
    this.statusRequests--; // read for the list, not asked
    return status
      ? [{ kernel_id: status.kernel_id } as IKernelServerSummary]
      : [];
  }
  async kernelServerStatus(): Promise<IKernelServerStatus | null> {
    this.statusRequests++;
    return this.status;
  }
}

/** Lets pending promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

describe('PanelModel', () => {
  let api: FakeApi;
  let kernels: FakeKernels;
  let clock: number;
  let services: IPanelServices;
  let models: PanelModel[];

  /** A model bound to `kernelId`, disposed after the test. */
  function makeModel(kernelId: string | null): PanelModel {
    const model = new PanelModel(services, kernelId);
    models.push(model);
    return model;
  }

  afterEach(() => {
    models.forEach(model => model.dispose());
  });

  beforeEach(() => {
    models = [];
    api = new FakeApi();
    kernels = new FakeKernels();
    clock = 0;
    services = {
      api,
      kernels,
      now: () => clock,
      sleep: async ms => {
        clock += ms;
      }
    };
  });

  it('has nothing to do without a kernel', async () => {
    const model = makeModel(null);
    await settle();
    expect(model.state.server).toEqual({ kind: 'no-kernel' });
    expect(model.state.kernels).toEqual(kernels.kernels);
  });

  it('says so when the kernel runs no server', async () => {
    const model = makeModel(KERNEL);
    await settle();
    expect(model.state.server).toEqual({ kind: 'absent' });
  });

  it('starts a server in the kernel, then reports it running', async () => {
    const model = makeModel(KERNEL);
    await settle();
    let checks = 0;
    api.kernelServerStatus = async () =>
      ++checks >= 3 ? serverStatus(['trips']) : null;
    kernels.start = vi.fn(async () => undefined);

    await model.startServer();
    await settle();

    expect(kernels.start).toHaveBeenCalledWith(KERNEL);
    expect(model.state.server).toEqual({
      kind: 'running',
      status: serverStatus(['trips'])
    });
  });

  it('shows what the kernel printed when starting fails', async () => {
    const model = makeModel(KERNEL);
    await settle();
    kernels.start = async () => {
      throw new Error('Starting SQLRooms failed (ModuleNotFoundError: x)');
    };
    await model.startServer();
    expect(model.state.server).toEqual({
      kind: 'error',
      message: 'Starting SQLRooms failed (ModuleNotFoundError: x)'
    });
  });

  it('gives up when no server appears after starting', async () => {
    const model = makeModel(KERNEL);
    await settle();
    await model.startServer();
    expect(model.state.server.kind).toBe('error');
    expect(clock).toBeGreaterThanOrEqual(START_TIMEOUT_MS);
  });

  it('notices when the server goes away, and when the status cannot be read', async () => {
    api.status = serverStatus();
    const model = makeModel(KERNEL);
    await settle();
    expect(model.state.server.kind).toBe('running');
    api.status = null;
    await model.refreshStatus();
    expect(model.state.server).toEqual({ kind: 'absent' });
    api.kernelServerStatus = async () => {
      throw new Error('503');
    };
    await model.refreshStatus();
    expect(model.state.server).toEqual({ kind: 'error', message: '503' });
  });

  it('switching kernels checks the new kernel, ignoring late answers', async () => {
    let release: (status: IKernelServerStatus | null) => void = () => {};
    api.kernelServerStatus = () =>
      new Promise(resolve => {
        release = resolve;
      });
    const model = makeModel(KERNEL);
    const slow = release;
    api.kernelServerStatus = async () => null;
    await model.selectKernel('kernel-2');
    slow(serverStatus());
    await settle();
    expect(model.state.kernelId).toBe('kernel-2');
    expect(model.state.server).toEqual({ kind: 'absent' });
  });

  it('asks about a kernel without a server once, then when the kernel signals', async () => {
    const model = makeModel(KERNEL);
    await settle();
    expect(model.state.server).toEqual({ kind: 'absent' });
    // The list, not the kernel's status: no 404 in Jupyter's log.
    expect([api.listRequests, api.statusRequests]).toEqual([1, 0]);
    model.noticeListed(new Set()); // the periodic list agrees: no question
    await settle();
    expect([api.listRequests, api.statusRequests]).toEqual([1, 0]);

    api.status = serverStatus(); // `%sqlrooms start` in the notebook
    kernels.signal(KERNEL);
    await settle();
    expect([api.listRequests, api.statusRequests]).toEqual([2, 1]);
    expect(model.state.server.kind).toBe('running');

    api.status = null; // stopped from Python: only the list tells
    model.noticeListed(new Set());
    await settle();
    expect(model.state.server).toEqual({ kind: 'absent' });

    await model.selectKernel('kernel-2'); // the old kernel is not watched any more
    expect(kernels.watchers.get(KERNEL)?.size).toBe(0);
    expect(kernels.watchers.get('kernel-2')?.size).toBe(1);
  });

  it('follows the list of running kernels', async () => {
    const model = makeModel(null);
    kernels.kernels = [...kernels.kernels, { id: 'k2', label: 'other.ipynb' }];
    kernels.changed.emit();
    expect(model.state.kernels.map(k => k.id)).toEqual([KERNEL, 'k2']);
  });
});
