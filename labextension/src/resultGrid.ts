/**
 * The part of an Arrow result the grid shows: column names and types, and the
 * first rows as display text.
 */
import type { Table } from 'apache-arrow';
import { columnReader, type CellText } from './cells';

export interface IResultColumn {
  readonly name: string;
  /** Arrow's name of the type, e.g. `Int64`, `Utf8`, `Timestamp<MICROSECOND>`. */
  readonly type: string;
  /** Whether values are numbers, to align them right. */
  readonly numeric: boolean;
}

export interface IResultGrid {
  readonly columns: readonly IResultColumn[];
  readonly rows: readonly (readonly CellText[])[];
  /** Rows in the result, which may be more than `rows` holds. */
  readonly totalRows: number;
}

/** Rendering more rows than this makes the page slow and helps nobody read them. */
export const DEFAULT_MAX_ROWS = 1000;

const NUMERIC_TYPE = /^(u?int|float|decimal)/i;

export function toResultGrid(
  table: Table,
  maxRows: number = DEFAULT_MAX_ROWS
): IResultGrid {
  const fields = table.schema.fields;
  const readers = fields.map((_field, index) =>
    columnReader(table.getChildAt(index)!)
  );
  const shown = Math.min(table.numRows, maxRows);
  const rows: CellText[][] = [];
  for (let row = 0; row < shown; row++) {
    rows.push(readers.map(read => read(row)));
  }
  return {
    columns: fields.map(field => {
      const type = String(field.type);
      return { name: field.name, type, numeric: NUMERIC_TYPE.test(type) };
    }),
    rows,
    totalRows: table.numRows
  };
}
