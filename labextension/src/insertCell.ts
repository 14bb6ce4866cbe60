/**
 * "Insert into notebook" from the SQLRooms app: a new cell below the active
 * cell of the notebook whose kernel the app queries.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { Widget } from '@lumino/widgets';
import { sessionContextOf } from './activeKernel';

/** The parts of a NotebookPanel used here (no @jupyterlab/notebook import). */
export interface INotebookLike extends Widget {
  content: {
    activeCellIndex: number;
    model: {
      getMetadata(key: string): unknown;
      setMetadata(key: string, value: unknown): void;
      sharedModel: {
        insertCell(
          index: number,
          cell: { cell_type: 'code'; source: string }
        ): unknown;
      };
    } | null;
  };
}

function isNotebook(widget: Widget): widget is INotebookLike {
  const content = (widget as unknown as { content?: object }).content;
  return (
    content !== undefined && content !== null && 'activeCellIndex' in content
  );
}

export class NotebookCellInserter {
  constructor(private readonly app: JupyterFrontEnd) {}

  /** The notebook on `kernelId`; the first one found when several share it. */
  notebookOf(kernelId: string | null): INotebookLike | null {
    for (const widget of this.app.shell.widgets('main')) {
      const kernel = sessionContextOf(widget)?.session?.kernel?.id;
      if (isNotebook(widget) && kernelId && kernel === kernelId) {
        return widget;
      }
    }
    return null;
  }

  insert(kernelId: string | null, code: string): boolean {
    const notebook = this.notebookOf(kernelId);
    if (!notebook) {
      return false;
    }
    const { content } = notebook;
    if (!content.model) {
      return false;
    }
    const below = content.activeCellIndex + 1;
    content.model.sharedModel.insertCell(below, {
      cell_type: 'code',
      source: code
    });
    content.activeCellIndex = below;
    this.app.shell.activateById(notebook.id);
    return true;
  }
}
