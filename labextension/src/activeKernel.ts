/**
 * The kernel of the notebook (or console) the user worked in last, which is
 * what "Open SQLRooms" and the status bar item are about.
 */
import type { ILabShell } from '@jupyterlab/application';
import type { ISessionContext } from '@jupyterlab/apputils';
import { Signal, type ISignal } from '@lumino/signaling';
import type { Widget } from '@lumino/widgets';

/** A widget backed by a kernel session: notebook panels and consoles. */
export function sessionContextOf(
  widget: Widget | null
): ISessionContext | null {
  const candidate = (widget as { sessionContext?: ISessionContext } | null)
    ?.sessionContext;
  return candidate && typeof candidate.kernelChanged?.connect === 'function'
    ? candidate
    : null;
}

export class ActiveKernelTracker {
  constructor(labShell: ILabShell | null, initial: Widget | null) {
    this.follow(sessionContextOf(initial));
    labShell?.currentChanged.connect(this.onCurrentChanged, this);
  }

  /** The last focused kernel-backed widget's session, while it is open. */
  get sessionContext(): ISessionContext | null {
    return this.context;
  }

  get kernelId(): string | null {
    return this.context?.session?.kernel?.id ?? null;
  }

  /** A path to show for the active kernel (the notebook's). */
  get path(): string | null {
    return this.context?.path ?? null;
  }

  /** The active widget or its kernel changed. */
  get changed(): ISignal<ActiveKernelTracker, void> {
    return this._changed;
  }

  private onCurrentChanged(
    _shell: ILabShell,
    change: ILabShell.IChangedArgs
  ): void {
    const context = sessionContextOf(change.newValue);
    if (context) {
      this.follow(context);
    }
  }

  private follow(context: ISessionContext | null): void {
    if (context === this.context) {
      return;
    }
    if (this.context) {
      this.context.kernelChanged.disconnect(this.emitChanged, this);
      this.context.disposed.disconnect(this.forget, this);
    }
    this.context = context;
    if (context) {
      context.kernelChanged.connect(this.emitChanged, this);
      context.disposed.connect(this.forget, this);
    }
    this.emitChanged();
  }

  private forget(): void {
    this.follow(null);
  }

  private emitChanged(): void {
    this._changed.emit();
  }

  private context: ISessionContext | null = null;
  private readonly _changed = new Signal<ActiveKernelTracker, void>(this);
}
