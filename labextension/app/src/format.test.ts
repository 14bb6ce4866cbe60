import {describe, expect, it} from 'vitest';
import {
  columnWidthCh,
  displayValue,
  groupThousands,
  normalRange,
  pagedTextQuery,
  CELL_CHARS,
  cellText,
  rangeTsv,
  roundFloat,
  rowsLabel,
} from './format';

describe('grid formatting', () => {
  it('rounds floats for display only', () => {
    expect(roundFloat('0.3333333333333333')).toBe('0.333333');
    expect(roundFloat('1234567.891')).toBe('1234567.89');
    expect(roundFloat('12.5')).toBe('12.5');
    expect(roundFloat('3.0')).toBe('3');
    expect(roundFloat('0.000123456789')).toBe('0.000123457');
    expect(roundFloat('1e+20')).toBe('1e+20');
    expect(roundFloat('inf')).toBe('inf');
    expect(roundFloat('nan')).toBe('nan');
  });

  it('keeps DuckDB text for decimals and timestamps, NULL for null', () => {
    expect(displayValue('12345678901234567890.12', {name: 'd', type: 'DECIMAL(38,2)'})).toBe(
      '12345678901234567890.12',
    );
    expect(displayValue('2024-07-27 22:27:42', {name: 't', type: 'TIMESTAMP'})).toBe(
      '2024-07-27 22:27:42',
    );
    expect(displayValue(null, {name: 'x', type: 'INTEGER'})).toBe('NULL');
    expect(displayValue('0.1', {name: 'f', type: 'DOUBLE'})).toBe('0.1');
  });

  it('groups thousands in counts, not in ids or years', () => {
    expect(displayValue('1234567', {name: 'count_star()', type: 'BIGINT'})).toBe('1,234,567');
    expect(displayValue('1234567', {name: 'trip_count', type: 'BIGINT'})).toBe('1,234,567');
    expect(displayValue('1234567', {name: 'id', type: 'BIGINT'})).toBe('1234567');
    expect(groupThousands('-1000')).toBe('-1,000');
    expect(rowsLabel(1)).toBe('1 row');
    expect(rowsLabel(0)).toBe('0 rows');
    expect(rowsLabel(100000)).toBe('100,000 rows');
  });

  it('sizes columns to their content within bounds', () => {
    expect(columnWidthCh({name: 'id', type: 'INTEGER'}, ['1', '22'])).toBe(13);
    expect(columnWidthCh({name: 'x', type: 'VARCHAR'}, ['a'.repeat(200)])).toBe(48);
  });

  it('sorts and pages in DuckDB, then casts to text', () => {
    const sql = pagedTextQuery('select 1 as "a b"', [{id: 'a b', desc: true}], {
      pageIndex: 2,
      pageSize: 100,
    });
    expect(sql).toBe(
      'SELECT left(COLUMNS(*)::VARCHAR, 2001) FROM (SELECT * FROM (\nselect 1 as "a b"\n) ORDER BY "a b" DESC NULLS LAST OFFSET 200 LIMIT 100)',
    );
  });

  it('marks a text cut by the page query', () => {
    expect(cellText('x'.repeat(CELL_CHARS))).toBe('x'.repeat(CELL_CHARS));
    expect(cellText('x'.repeat(CELL_CHARS + 1))).toBe(`${'x'.repeat(CELL_CHARS)}…`);
  });

  it('copies a cell as is and a block as TSV with its header', () => {
    const columns = [
      {name: 'a', type: 'INTEGER'},
      {name: 'b', type: 'VARCHAR'},
    ];
    const rows = [
      ['1', 'x\ty'],
      ['2', null],
    ];
    expect(rangeTsv(columns, rows, normalRange({row: 0, col: 1}, {row: 0, col: 1}))).toBe('x\ty');
    expect(rangeTsv(columns, rows, normalRange({row: 1, col: 1}, {row: 0, col: 0}))).toBe(
      'a\tb\n1\tx y\n2\t',
    );
  });
});
