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
}
