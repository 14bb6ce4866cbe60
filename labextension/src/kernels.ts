/**
 * Running kernels to pick from, and starting a SQLRooms server in one.
 */
import type {
  Kernel,
  KernelMessage,
  ServiceManager
} from '@jupyterlab/services';
import { DisposableDelegate, type IDisposable } from '@lumino/disposable';
import { Signal, type ISignal } from '@lumino/signaling';
import { announcesServerChange, endsServer } from './serverSignals';

/** A running kernel the panel can bind to. */
export interface IKernelChoice {
  readonly id: string;
  /** The notebook or console path of its session, else the kernel spec name. */
  readonly label: string;
}

/** What the panel needs to know about kernels (a fake in tests). */
export interface IKernelDirectory {
  running(): IKernelChoice[];
  readonly changed: ISignal<IKernelDirectory, void>;
  /** Runs the start magics in the kernel; rejects with what the kernel printed on failure. */
  startSqlRooms(kernelId: string): Promise<void>;
  /**
   * Calls `onChange` when the kernel's SQLRooms server may have started or
   * stopped: `%sqlrooms start`/`stop` printed, or the kernel restarted or died.
   */
  watch(kernelId: string, onChange: () => void): IDisposable;
}

/** One kernel connection per watched kernel, shared by its watchers. */
interface IWatchedKernel {
  readonly connection: Kernel.IKernelConnection;
  readonly listeners: Set<() => void>;
}

/** The code the "Start" button runs in the kernel. */
export const START_SQLROOMS_CODE =
  '%load_ext sqlrooms_jupyter\n%sqlrooms start';

export class KernelDirectory implements IKernelDirectory {
  constructor(private readonly services: ServiceManager.IManager) {
    services.kernels.runningChanged.connect(this.emitChanged, this);
    services.sessions.runningChanged.connect(this.emitChanged, this);
  }

  get changed(): ISignal<IKernelDirectory, void> {
    return this._changed;
  }

  running(): IKernelChoice[] {
    const pathOfKernel = new Map<string, string>();
    for (const session of this.services.sessions.running()) {
      if (session.kernel) {
        pathOfKernel.set(session.kernel.id, session.path);
      }
    }
    return [...this.services.kernels.running()].map(kernel => ({
      id: kernel.id,
      label:
        pathOfKernel.get(kernel.id) ?? `${kernel.name} ${kernel.id.slice(0, 8)}`
    }));
  }

  async startSqlRooms(kernelId: string): Promise<void> {
    const model = [...this.services.kernels.running()].find(
      kernel => kernel.id === kernelId
    );
    if (!model) {
      throw new Error('The kernel is not running any more');
    }
    const connection = this.services.kernels.connectTo({ model });
    try {
      const printed: string[] = [];
      const future = connection.requestExecute({
        code: START_SQLROOMS_CODE,
        silent: false,
        store_history: false,
        stop_on_error: true
      });
      future.onIOPub = message => {
        const text = printedText(message);
        if (text) {
          printed.push(text);
        }
      };
      const reply = await future.done;
      if (reply.content.status !== 'ok') {
        const detail =
          reply.content.status === 'error'
            ? `${reply.content.ename}: ${reply.content.evalue}`
            : reply.content.status;
        throw new Error(
          [`Starting SQLRooms failed (${detail})`, ...printed].join('\n')
        );
      }
    } finally {
      connection.dispose();
    }
  }

  watch(kernelId: string, onChange: () => void): IDisposable {
    const watched = this.watched.get(kernelId) ?? this.connectWatch(kernelId);
    watched.listeners.add(onChange);
    return new DisposableDelegate(() => {
      watched.listeners.delete(onChange);
      if (watched.listeners.size === 0) {
        this.watched.delete(kernelId);
        watched.connection.dispose(); // closes our socket; the kernel runs on
      }
    });
  }

  private connectWatch(kernelId: string): IWatchedKernel {
    // A kernel the manager has not listed yet (JupyterLab starting) is watched all the same.
    const model = [...this.services.kernels.running()].find(
      kernel => kernel.id === kernelId
    ) ?? { id: kernelId, name: '' };
    const connection = this.services.kernels.connectTo({
      model,
      handleComms: false
    });
    const watched: IWatchedKernel = { connection, listeners: new Set() };
    const emit = (): void => watched.listeners.forEach(listener => listener());
    let restarting = false;
    connection.iopubMessage.connect((_kernel, message) => {
      if (announcesServerChange(message)) {
        emit();
      }
    });
    connection.statusChanged.connect((_kernel, status) => {
      if (endsServer(status)) {
        restarting = true;
        emit();
      } else if (restarting && status === 'idle') {
        restarting = false; // back: ask once more (a start cell may have run)
        emit();
      }
    });
    this.watched.set(kernelId, watched);
    return watched;
  }

  private emitChanged(): void {
    this._changed.emit();
  }

  private readonly _changed = new Signal<IKernelDirectory, void>(this);
  private readonly watched = new Map<string, IWatchedKernel>();
}

function printedText(message: KernelMessage.IIOPubMessage): string | null {
  const content = message.content as {
    name?: string;
    text?: string;
    ename?: string;
    evalue?: string;
  };
  if (message.header.msg_type === 'stream' && content.name === 'stderr') {
    return content.text ?? null;
  }
  if (message.header.msg_type === 'error') {
    return `${content.ename}: ${content.evalue}`;
  }
  return null;
}
