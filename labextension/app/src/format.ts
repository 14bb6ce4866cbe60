/**
 * How the grid shows values. The page arrives as DuckDB's own text (`COLUMNS(*)::VARCHAR`), so
 * timestamps, TIMESTAMPTZ in the session time zone, decimals, lists and structs read exactly as
 * DuckDB prints them; here only floats are rounded and counts get thousands separators, for
 * display (hover and copy keep DuckDB's full text).
 */

export type GridColumn = {name: string; type: string};
export type Sort = {id: string; desc: boolean};

export function quoteId(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** The longest text a grid cell receives: a page of 2 MB texts froze the tab. One more
 * character is fetched so that a cut value can be marked (`cellText`). */
export const CELL_CHARS = 2000;

/** A page value as shown: cut ones end with `…`. */
export function cellText(value: string): string {
  return value.length > CELL_CHARS ? `${value.slice(0, CELL_CHARS)}…` : value;
}

/** One page of `sql` as text: sorted and cut in DuckDB, then every column cast to VARCHAR
 * (each value at most CELL_CHARS + 1 characters). */
export function pagedTextQuery(
  sql: string,
  sorting: Sort[],
  page: {pageIndex: number; pageSize: number},
): string {
  const order = sorting.length
    ? ` ORDER BY ${sorting.map((s) => `${quoteId(s.id)}${s.desc ? ' DESC' : ''} NULLS LAST`).join(', ')}`
    : '';
  const cut = `OFFSET ${page.pageIndex * page.pageSize} LIMIT ${page.pageSize}`;
  return `SELECT left(COLUMNS(*)::VARCHAR, ${CELL_CHARS + 1}) FROM (SELECT * FROM (\n${sql}\n)${order} ${cut})`;
}

/** The result's columns with DuckDB's type names. */
export function describeQuery(sql: string): string {
  return `DESCRIBE SELECT * FROM (\n${sql}\n)`;
}

const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL|NUMERIC)\b/i;
const INTEGER =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/i;
const FLOAT = /^(FLOAT|DOUBLE|REAL)$/i;

export function isNumericType(type: string): boolean {
  return NUMERIC.test(type);
}

/** A column that counts things (`count(*)`, `n`, `trip_count`, …): shown with separators. */
export function isCountColumn(column: GridColumn): boolean {
  return (
    INTEGER.test(column.type) &&
    /^(n|count|count_star\(\)|count\(.*\)|.*_count|num_.*|total)$/i.test(column.name)
  );
}

export function groupThousands(digits: string): string {
  const match = /^(-?)(\d+)$/.exec(digits);
  return match ? match[1] + match[2].replace(/\B(?=(\d{3})+(?!\d))/g, ',') : digits;
}

/** Six significant digits (at least two decimals above 1); DuckDB's text kept for inf/nan. */
export function roundFloat(text: string): string {
  const value = Number(text);
  if (!Number.isFinite(value) || value === 0 || !/\d/.test(text)) return text;
  const abs = Math.abs(value);
  if (abs >= 1e15) return value.toPrecision(6).replace(/\.?0+e/, 'e');
  if (abs < 1) return String(Number(value.toPrecision(6)));
  const intDigits = Math.floor(Math.log10(abs)) + 1;
  const fixed = value.toFixed(Math.max(2, 6 - intDigits));
  return fixed.replace(/\.?0+$/, '');
}

/** What a cell shows; `null` is SQL NULL. The full text stays DuckDB's. */
export function displayValue(text: string | null, column: GridColumn): string {
  if (text === null) return 'NULL';
  if (FLOAT.test(column.type)) return roundFloat(text);
  if (isCountColumn(column)) return groupThousands(text);
  return text;
}

export function rowsLabel(rows: number): string {
  return `${groupThousands(String(rows))} ${rows === 1 ? 'row' : 'rows'}`;
}

const MIN_CH = 10;
const MAX_CH = 48;

/** A column's width in `ch`: its widest shown value or its header (name + type), bounded. */
export function columnWidthCh(column: GridColumn, shown: string[]): number {
  const header = column.name.length + column.type.length + 4;
  const widest = shown.reduce((w, s) => Math.max(w, s.length), 0);
  return Math.min(MAX_CH, Math.max(MIN_CH, header, widest + 2));
}

/** A cell for TSV: tabs and newlines would break the grid it is pasted into. */
function tsvCell(text: string | null): string {
  return text === null ? '' : text.replace(/[\t\n\r]/g, ' ');
}

export function toTsv(header: string[] | null, rows: (string | null)[][]): string {
  const lines = rows.map((r) => r.map(tsvCell).join('\t'));
  return (header ? [header.map(tsvCell).join('\t'), ...lines] : lines).join('\n');
}

export type CellRange = {r0: number; c0: number; r1: number; c1: number};

export function normalRange(
  a: {row: number; col: number},
  b: {row: number; col: number},
): CellRange {
  return {
    r0: Math.min(a.row, b.row),
    r1: Math.max(a.row, b.row),
    c0: Math.min(a.col, b.col),
    c1: Math.max(a.col, b.col),
  };
}

export function inRange(range: CellRange | null, row: number, col: number): boolean {
  return !!range && row >= range.r0 && row <= range.r1 && col >= range.c0 && col <= range.c1;
}

/** The selected block as TSV; a header line when more than one cell is copied. */
export function rangeTsv(
  columns: GridColumn[],
  rows: (string | null)[][],
  range: CellRange,
): string {
  const picked = rows.slice(range.r0, range.r1 + 1).map((r) => r.slice(range.c0, range.c1 + 1));
  const single = range.r0 === range.r1 && range.c0 === range.c1;
  if (single) return picked[0]?.[0] ?? '';
  return toTsv(
    columns.slice(range.c0, range.c1 + 1).map((c) => c.name),
    picked,
  );
}
