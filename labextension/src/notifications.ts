/**
 * Live refresh: the kernel tells subscribers of `table:<name>` when a shared
 * table is created, replaced or dropped.
 */

const TABLE_CHANNEL_PREFIX = 'table:';

/** What happened to a watched table. */
export type TableChangeOp = 'create' | 'replace' | 'drop';

export interface ITableChange {
  readonly op: TableChangeOp;
}

const KNOWN_OPS: ReadonlySet<string> = new Set(['create', 'replace', 'drop']);

/** The notify channel for a table name (`trips` -> `table:trips`). */
export function tableChannel(tableName: string): string {
  return `${TABLE_CHANNEL_PREFIX}${tableName}`;
}

/**
 * Reads a notify payload (`{"op": "replace"}`); anything else is `null`.
 *
 * The payload comes from other clients too (any client may notify a channel),
 * so it is validated rather than trusted.
 */
export function parseTableChange(payload: unknown): ITableChange | null {
  if (typeof payload !== 'object' || payload === null) {
    return null;
  }
  const op = (payload as { op?: unknown }).op;
  return typeof op === 'string' && KNOWN_OPS.has(op)
    ? { op: op as TableChangeOp }
    : null;
}

/** Sorted, de-duplicated channels for the given table names. */
export function channelsForTables(tableNames: Iterable<string>): string[] {
  return [...new Set([...tableNames].map(tableChannel))].sort();
}

/** Whether two sorted channel lists are the same. */
export function sameChannels(
  a: readonly string[],
  b: readonly string[]
): boolean {
  return a.length === b.length && a.every((channel, i) => channel === b[i]);
}
