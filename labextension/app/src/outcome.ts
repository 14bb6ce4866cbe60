/** What a statement without a result set to page through answered, for "Done". */
import type {Table} from 'apache-arrow';

export type CommandDone = {
  /** Rows DuckDB says the statement changed (INSERT, UPDATE, DELETE's `Count`), if it says. */
  changed?: number;
};

/**
 * "Done" for a statement that returned no table to show: the server's `ok` (an empty table
 * with no columns or no batches), or DuckDB's one-row `Count` table for DML. Null when the
 * answer is rows to show (RETURNING, PRAGMA, EXPLAIN…).
 */
export function commandDone(table: Table): CommandDone | null {
  if (table.numCols === 0 || table.batches.length === 0) return {};
  const field = table.schema.fields[0];
  if (table.numCols === 1 && table.numRows === 1 && field.name === 'Count') {
    const value = table.getChildAt(0)?.get(0);
    const changed = Number(value);
    return Number.isFinite(changed) ? {changed} : null;
  }
  return null;
}

export function doneText(done: CommandDone, ms: number | undefined): string {
  const parts = ['Done'];
  if (done.changed !== undefined) {
    parts.push(`${done.changed.toLocaleString()} ${done.changed === 1 ? 'row' : 'rows'}`);
  }
  if (ms !== undefined) parts.push(`${ms.toFixed(0)} ms`);
  return parts.join(' · ');
}
