/**
 * Column profiles above the grid (like quak): a histogram of a numeric or temporal column, the
 * top values of any other, with its NULL count, each computed in DuckDB over the whole result,
 * filtered by the other columns' filters (a click on a bar adds one), never by its own.
 */
import {quoteId} from './format';

export const BINS = 16;
export const TOP_VALUES = 3;
/** Columns profiled as soon as a result shows; the others on a click. Each profile scans the
 * whole result, so a 1,000-column table would keep a shared server busy for minutes. */
export const AUTO_PROFILED_COLUMNS = 24;

export type ProfileKind = 'histogram' | 'top';

const MEASURABLE =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|DECIMAL|NUMERIC|DATE|TIMESTAMP)/i;

export function profileKind(type: string): ProfileKind {
  return MEASURABLE.test(type) && !/\[\]$|^(TIME\b)/i.test(type) ? 'histogram' : 'top';
}

const INTEGER =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)\b/i;

function isTemporal(type: string): boolean {
  return /^(DATE|TIMESTAMP)/i.test(type);
}

/** The column as a number: seconds since the epoch for dates and timestamps. */
function measure(column: string, type: string): string {
  return isTemporal(type) ? `epoch(${quoteId(column)})` : `${quoteId(column)}::DOUBLE`;
}

/** A filter from a profile's bar; `value` is the text value picked among the top values. */
export type Filter = {column: string; predicate: string; label: string; value?: string | null};

/** `sql` with every filter but the one on `except`. */
export function filteredSql(sql: string, filters: Filter[], except?: string): string {
  const where = filters.filter((f) => f.column !== except).map((f) => `(${f.predicate})`);
  return where.length ? `SELECT * FROM (\n${sql}\n) WHERE ${where.join(' AND ')}` : sql;
}

/** One row per bin (`bin` NULL counts the NULLs), with the range of the column. */
export function histogramQuery(sql: string, column: string, type: string): string {
  return (
    `WITH s AS (SELECT ${measure(column, type)} AS v FROM (\n${sql}\n)), ` +
    'r AS (SELECT min(v) AS lo, max(v) AS hi FROM s) ' +
    `SELECT least(floor((v - lo) / nullif(hi - lo, 0) * ${BINS}), ${BINS - 1})::INTEGER AS bin, ` +
    'count(*)::BIGINT AS n, any_value(lo) AS lo, any_value(hi) AS hi FROM s, r GROUP BY 1'
  );
}

/**
 * The most frequent values (NULL among them), with the number of distinct values and rows;
 * `keep` (the value a filter picked) is always among them, so the profile can show it.
 */
export function topValuesQuery(sql: string, column: string, keep?: string | null): string {
  const kept =
    keep === undefined
      ? ''
      : `(v IS NOT DISTINCT FROM ${keep === null ? 'NULL' : sqlString(keep)}) DESC, `;
  return (
    `WITH g AS (SELECT ${quoteId(column)}::VARCHAR AS v, count(*)::BIGINT AS n FROM (\n${sql}\n) GROUP BY 1) ` +
    'SELECT v, n, (SELECT count(*) FROM g)::BIGINT AS distinct_n, (SELECT sum(n) FROM g)::BIGINT AS total, ' +
    '(SELECT coalesce(sum(n) FILTER (WHERE v IS NULL), 0) FROM g)::BIGINT AS nulls ' +
    `FROM g ORDER BY ${kept}n DESC, v NULLS LAST LIMIT ${TOP_VALUES}`
  );
}

export type Bar = {label: string; n: number; filter: Filter};

export type Profile = {bars: Bar[]; nulls: number; total: number; note?: string};

function sqlString(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function formatEdge(value: number, type: string): string {
  if (isTemporal(type)) {
    const iso = new Date(value * 1000).toISOString();
    return /^DATE$/i.test(type) ? iso.slice(0, 10) : iso.slice(0, 19).replace('T', ' ');
  }
  return Number(value.toPrecision(6)).toString();
}

/**
 * What a bin covers, `[from, to)` (the last one `[from, to]`): for integers the values really in
 * it (`0 – 187499`, not `0 – 187500`, which is the next bin's first).
 */
function binLabel(from: number, to: number, last: boolean, type: string): string {
  if (INTEGER.test(type)) {
    const first = Math.ceil(from);
    const end = last ? Math.floor(to) : Math.ceil(to) - 1;
    if (first === end) return String(first);
    if (first < end) return `${first} – ${end}`;
  }
  return `${formatEdge(from, type)} – ${formatEdge(to, type)}`;
}

/** Bars of a histogram answer: empty bins included, so the shape reads right. */
export function histogramProfile(
  rows: {bin: number | null; n: number; lo: number | null; hi: number | null}[],
  column: string,
  type: string,
): Profile {
  const nulls = rows.find((r) => r.bin === null)?.n ?? 0;
  const counted = rows.filter((r) => r.bin !== null);
  const total = rows.reduce((s, r) => s + r.n, 0);
  const lo = counted[0]?.lo;
  const hi = counted[0]?.hi;
  if (lo === null || lo === undefined || hi === null || hi === undefined) {
    return {bars: [], nulls, total};
  }
  const expr = measure(column, type);
  if (hi === lo) {
    const label = formatEdge(lo, type);
    const n = counted.reduce((s, r) => s + r.n, 0);
    return {
      bars: [
        {label, n, filter: {column, predicate: `${expr} = ${lo}`, label: `${column} = ${label}`}},
      ],
      nulls,
      total,
    };
  }
  const width = (hi - lo) / BINS;
  const byBin = new Map(counted.map((r) => [r.bin, r.n]));
  const bars = Array.from({length: BINS}, (_, bin) => {
    const from = lo + bin * width;
    const to = bin === BINS - 1 ? hi : lo + (bin + 1) * width;
    const last = bin === BINS - 1;
    const label = binLabel(from, to, last, type);
    return {
      label,
      n: byBin.get(bin) ?? 0,
      filter: {
        column,
        predicate: `${expr} >= ${from} AND ${expr} ${last ? '<=' : '<'} ${to}`,
        label: `${column} in ${label}`,
      },
    };
  });
  return {bars, nulls, total};
}

export function topValuesProfile(
  rows: {v: string | null; n: number; distinct: number; total: number; nulls: number}[],
  column: string,
): Profile {
  const total = rows[0]?.total ?? 0;
  const distinct = rows[0]?.distinct ?? 0;
  // Counted apart: NULL may not be among the top values.
  const nulls = rows[0]?.nulls ?? 0;
  const bars = rows.map((r) => ({
    label: r.v ?? 'NULL',
    n: r.n,
    filter: {
      column,
      predicate:
        r.v === null
          ? `${quoteId(column)} IS NULL`
          : `${quoteId(column)}::VARCHAR = ${sqlString(r.v)}`,
      label: `${column} = ${r.v ?? 'NULL'}`,
      value: r.v,
    },
  }));
  return withNote({bars: [...bars].sort((a, b) => b.n - a.n), nulls, total}, distinct);
}

/** `+N more (P%)` when `bars` are not every value there is. */
export function withNote(profile: Profile, distinct: number): Profile {
  const {bars, nulls, total} = profile;
  const shown = bars.reduce((s, b) => s + b.n, 0);
  const others = distinct - bars.length;
  return {
    bars,
    nulls,
    total,
    note:
      others > 0
        ? `+${others.toLocaleString('en-US')} more (${Math.round(((total - shown) / Math.max(1, total)) * 100)}%)`
        : undefined,
  };
}
