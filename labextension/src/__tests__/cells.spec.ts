import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import {
  formatBlob,
  formatDecimal,
  formatInterval,
  formatNested,
  formatTimestamp
} from '../cells';
import { toResultGrid } from '../resultGrid';

/** One row of many DuckDB types and one row of NULLs, as DuckDB encodes them. */
const duckdbTypes = tableFromIPC(
  readFileSync(join(__dirname, 'fixtures', 'duckdb-types.arrow'))
);

describe('cells of a DuckDB result', () => {
  const grid = toResultGrid(duckdbTypes);
  const cell = (name: string, row = 0): string | null =>
    grid.rows[row][grid.columns.findIndex(column => column.name === name)];

  it.each([
    ['tiny', '42'],
    ['big', '12345678901234'],
    ['ubig', '18446744073709551615'],
    ['huge', '170141183460469231731687303715884105727'],
    ['dbl', '1.5'],
    ['negzero', '-0.0'],
    ['dec', '123.45'],
    ['dec_small', '-0.050'],
    ['dt', '2024-02-29'],
    ['dt_old', '1969-12-31'],
    ['ts', '2024-01-01 12:34:56.789'],
    ['ts_us', '2024-01-01 12:34:56.123456'],
    ['tstz', '2024-01-01 10:34:56 UTC'],
    ['ts_ns', '2024-01-01 00:00:00.123457'],
    ['tm', '12:34:56.5'],
    ['iv', '1 day 02:00:00'],
    ['iv_long', '1 year 2 months 3 days 00:00:01.5'],
    ['blob', 'ab\\x00c'],
    ['list', '[1,2,3]'],
    ['struct', '{"a":1,"b":"x"}'],
    ['map', '{"k":10}'],
    ['bool', 'true'],
    ['text', 'héllo'],
    ['enum', 'a']
  ])('%s reads %s', (name, text) => {
    expect(cell(name)).toBe(text);
  });

  it('gives null for every NULL, whatever the type', () => {
    expect(grid.rows[1].every(value => value === null)).toBe(true);
  });

  it('describes the columns and marks numbers', () => {
    const byName = Object.fromEntries(
      grid.columns.map(column => [column.name, column])
    );
    expect(byName.big).toEqual({ name: 'big', type: 'Int64', numeric: true });
    expect(byName.dec.numeric).toBe(true);
    expect(byName.text.numeric).toBe(false);
    expect(byName.ts.numeric).toBe(false);
  });

  it('counts every row but keeps only the first ones', () => {
    const capped = toResultGrid(duckdbTypes, 1);
    expect(capped.totalRows).toBe(2);
    expect(capped.rows).toHaveLength(1);
  });
});

describe('formatDecimal', () => {
  it.each([
    ['12345', 2, '123.45'],
    ['-50', 3, '-0.050'],
    ['5', 0, '5'],
    ['0', 2, '0.00'],
    ['-123456789012345678901234567890', 10, '-12345678901234567890.1234567890']
  ])('%s with scale %d reads %s', (unscaled, scale, text) => {
    expect(formatDecimal(unscaled, scale)).toBe(text);
  });
});

describe('formatTimestamp', () => {
  it('handles instants before 1970', () => {
    expect(formatTimestamp(-0.5, null)).toBe('1969-12-31 23:59:59.9995');
  });

  it('rounds to the microsecond without overflowing the day', () => {
    expect(formatTimestamp(86_399_999.9999, null)).toBe('1970-01-02 00:00:00');
  });
});

describe('formatInterval', () => {
  it('prints a zero interval as a clock', () => {
    expect(formatInterval(0, 0, BigInt(0))).toBe('00:00:00');
  });

  it('counts negative months as DuckDB does', () => {
    expect(formatInterval(-13, 0, BigInt(0))).toBe('-1 year -1 month');
  });

  it('keeps the sign of negative times', () => {
    expect(formatInterval(0, -1, BigInt(-3_600_000_000))).toBe(
      '-1 day -01:00:00'
    );
  });
});

describe('formatBlob and formatNested', () => {
  it('escapes non-printable bytes and backslashes', () => {
    expect(formatBlob(new Uint8Array([0x41, 0x5c, 0xff]))).toBe('A\\x5C\\xFF');
  });

  it('shortens long blobs', () => {
    expect(formatBlob(new Uint8Array(100).fill(0x61))).toBe(
      `${'a'.repeat(64)}… (100 bytes)`
    );
  });

  it('keeps every digit of big integers inside nested values', () => {
    expect(formatNested({ n: BigInt('9007199254740993') })).toBe(
      '{"n":"9007199254740993"}'
    );
  });
});
