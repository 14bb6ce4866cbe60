/** What the framed app needs from JupyterLab around it. */
import type { ISignal } from '@lumino/signaling';
import type { AppTheme } from './appFrame';

export interface IAppHost {
  /** Jupyter's base URL, with a trailing slash. */
  readonly baseUrl: string;
  theme(): AppTheme;
  /** JupyterLab's theme changed. */
  readonly themeChanged: ISignal<unknown, unknown> | null;
  /** Inserts `code` as a cell below the active cell of a notebook on `kernelId`. */
  insertCell(kernelId: string | null, code: string): void;
  /**
   * The app's state saved in the metadata of the notebook on `kernelId`
   * (`persistent` is false when no notebook is open on it).
   */
  loadState(kernelId: string): { state: unknown; persistent: boolean };
  /** Saves the app's state in that notebook's metadata. */
  saveState(kernelId: string, state: object): void;
}
