/**
 * "Insert into notebook" from the SQLRooms app: a new cell below the active
 * cell of the notebook whose kernel the app queries. The app's cell assigns
 * `result_N`; before inserting, the name is moved to one that nothing in the
 * kernel's namespace (nor another cell of the notebook) uses yet, so running
 * it never clobbers a frame the notebook shares.
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
        cells?: ReadonlyArray<{ getSource(): string }>;
      };
    } | null;
  };
}

/** The kernel call used to list its names (a silent execute request). */
export interface IKernelLike {
  requestExecute(content: {
    code: string;
    silent: boolean;
    store_history: boolean;
    user_expressions: Record<string, string>;
  }): { done: Promise<{ content: unknown }> };
}

const RESULT_NAME = /^result_\d+$/;
const ASSIGNMENT = /^(result_\d+)(\s*=\s*duckdb\.sql\()/m;
/** Evaluated in the kernel's namespace: the result_N names already bound. */
export const TAKEN_EXPRESSION =
  "sorted(n for n in globals() if n.startswith('result_'))";

function isNotebook(widget: Widget): widget is INotebookLike {
  const content = (widget as unknown as { content?: object }).content;
  return (
    content !== undefined && content !== null && 'activeCellIndex' in content
  );
}

/** The `result_N` names in a Python list's repr (`['result_1', 'result_3']`). */
export function namesInRepr(text: string): string[] {
  return [...text.matchAll(/'(result_\d+)'/g)].map(m => m[1]);
}

/** `result_N` names that cells of the notebook assign (inserted but maybe not run yet). */
export function namesInSources(sources: Iterable<string>): string[] {
  const names: string[] = [];
  for (const source of sources) {
    for (const m of source.matchAll(/^\s*(result_\d+)\s*=/gm)) {
      names.push(m[1]);
    }
  }
  return names;
}

/** `result_N` with the smallest N ≥ 1 not taken. */
export function freshResultName(taken: Iterable<string>): string {
  const used = new Set(taken);
  let n = 1;
  while (used.has(`result_${n}`)) {
    n++;
  }
  return `result_${n}`;
}

/** The app's cell with its `result_N` renamed to `name` (other cells unchanged). */
export function renameResult(code: string, name: string): string {
  const match = ASSIGNMENT.exec(code);
  if (!match || !RESULT_NAME.test(name)) {
    return code;
  }
  const old = match[1];
  const renamed = code.replace(ASSIGNMENT, `${name}$2`);
  return renamed.endsWith(`\n${old}`)
    ? `${renamed.slice(0, -old.length)}${name}`
    : renamed;
}

/** The names the kernel has bound, or [] when it cannot say (busy, gone). */
export async function kernelNames(
  kernel: IKernelLike | null | undefined,
  timeoutMs = 3000
): Promise<string[]> {
  if (!kernel) {
    return [];
  }
  try {
    const future = kernel.requestExecute({
      code: '',
      silent: true,
      store_history: false,
      user_expressions: { names: TAKEN_EXPRESSION }
    });
    const timeout = new Promise<null>(resolve =>
      setTimeout(() => resolve(null), timeoutMs)
    );
    const reply = await Promise.race([future.done, timeout]);
    const content = reply?.content as
      | {
          user_expressions?: {
            names?: { status?: string; data?: Record<string, string> };
          };
        }
      | undefined;
    const names = content?.user_expressions?.names;
    return names?.status === 'ok'
      ? namesInRepr(names.data?.['text/plain'] ?? '')
      : [];
  } catch {
    return [];
  }
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

  /** Inserts `code` with a fresh result name; false when there is no notebook. */
  async insert(kernelId: string | null, code: string): Promise<boolean> {
    const notebook = this.notebookOf(kernelId);
    if (!notebook?.content.model) {
      return false;
    }
    const kernel = sessionContextOf(notebook)?.session?.kernel as
      IKernelLike | null | undefined;
    const taken = await kernelNames(kernel);
    const { content } = notebook;
    if (!content.model) {
      return false;
    }
    const cells = content.model.sharedModel.cells ?? [];
    const name = freshResultName([
      ...taken,
      ...namesInSources(cells.map(cell => cell.getSource()))
    ]);
    const below = content.activeCellIndex + 1;
    content.model.sharedModel.insertCell(below, {
      cell_type: 'code',
      source: renameResult(code, name)
    });
    content.activeCellIndex = below;
    this.app.shell.activateById(notebook.id);
    return true;
  }
}
