/**
 * The app's state (tabs, queries, charts, history) kept in the metadata of the
 * notebook whose kernel it queries, so that it is saved with the notebook and
 * survives reloads and kernel restarts.
 */
import type { INotebookLike } from './insertCell';

export const METADATA_KEY = 'sqlrooms';

export interface INotebookFinder {
  notebookOf(kernelId: string | null): INotebookLike | null;
}

export class NotebookAppState {
  constructor(private readonly notebooks: INotebookFinder) {}

  load(kernelId: string): { state: unknown; persistent: boolean } {
    const model = this.notebooks.notebookOf(kernelId)?.content.model;
    if (!model) {
      return { state: null, persistent: false };
    }
    return { state: model.getMetadata(METADATA_KEY) ?? null, persistent: true };
  }

  /** Writes `state`, unless it is what the metadata holds already (no needless dirty mark). */
  save(kernelId: string, state: object): boolean {
    const model = this.notebooks.notebookOf(kernelId)?.content.model;
    if (!model) {
      return false;
    }
    const before = model.getMetadata(METADATA_KEY);
    if (JSON.stringify(before) === JSON.stringify(state)) {
      return false;
    }
    model.setMetadata(METADATA_KEY, state);
    return true;
  }
}
