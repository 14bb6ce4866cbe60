import {describe, expect, it} from 'vitest';
import {
  BINS,
  filteredSql,
  histogramProfile,
  profileKind,
  topValuesProfile,
  topValuesQuery,
} from './profiles';

describe('column profiles', () => {
  it('histograms numbers and times, top values for the rest', () => {
    expect(
      ['BIGINT', 'DOUBLE', 'DECIMAL(8,2)', 'DATE', 'TIMESTAMP WITH TIME ZONE'].map(profileKind),
    ).toEqual(Array(5).fill('histogram'));
    expect(
      ['VARCHAR', 'BOOLEAN', 'INTEGER[]', 'TIME', 'STRUCT(a INTEGER)'].map(profileKind),
    ).toEqual(Array(5).fill('top'));
  });

  it("filters by every column but the profile's own", () => {
    const filters = [
      {column: 'a', predicate: '"a" = 1', label: 'a = 1'},
      {column: 'b', predicate: '"b" IS NULL', label: 'b = NULL'},
    ];
    expect(filteredSql('from t', filters, 'a')).toBe(
      'SELECT * FROM (\nfrom t\n) WHERE ("b" IS NULL)',
    );
    expect(filteredSql('from t', [], 'a')).toBe('from t');
  });

  it('keeps empty bins and counts NULLs apart', () => {
    const p = histogramProfile(
      [
        {bin: 0, n: 5, lo: 0, hi: 16},
        {bin: 15, n: 2, lo: 0, hi: 16},
        {bin: null, n: 3, lo: 0, hi: 16},
      ],
      'x',
      'DOUBLE',
    );
    expect(p.bars).toHaveLength(BINS);
    expect(p.bars.map((b) => b.n).filter(Boolean)).toEqual([5, 2]);
    expect(p.nulls).toBe(3);
    expect(p.total).toBe(10);
    expect(p.bars[15].filter.predicate).toBe('"x"::DOUBLE >= 15 AND "x"::DOUBLE <= 16');
    expect(p.bars[0].filter.predicate).toBe('"x"::DOUBLE >= 0 AND "x"::DOUBLE < 1');
  });

  it('labels integer bins with the integers they hold', () => {
    const p = histogramProfile(
      [
        {bin: 0, n: 5, lo: 0, hi: 2999999},
        {bin: 15, n: 2, lo: 0, hi: 2999999},
      ],
      'id',
      'BIGINT',
    );
    expect(p.bars[0].label).toBe('0 – 187499');
    expect(p.bars[1].label).toBe('187500 – 374999');
    expect(p.bars[15].label).toBe('2812500 – 2999999');
    const small = histogramProfile([{bin: 0, n: 1, lo: 0, hi: 3}], 'k', 'INTEGER');
    expect(small.bars.map((b) => b.label).slice(0, 6)).toEqual([
      '0',
      '0.1875 – 0.375',
      '0.375 – 0.5625',
      '0.5625 – 0.75',
      '0.75 – 0.9375',
      '1',
    ]);
  });

  it('labels NULL among the top values and filters on it', () => {
    const p = topValuesProfile(
      [
        {v: 'Oslo', n: 6, distinct: 5, total: 10, nulls: 2},
        {v: null, n: 2, distinct: 5, total: 10, nulls: 2},
      ],
      'city',
    );
    expect(p.bars.map((b) => b.label)).toEqual(['Oslo', 'NULL']);
    expect(p.bars[1].filter.predicate).toBe('"city" IS NULL');
    expect(p.bars[0].filter.predicate).toBe(`"city"::VARCHAR = 'Oslo'`);
    expect(p.note).toBe('+3 more (20%)');
    expect(p.nulls).toBe(2);
    expect(topValuesProfile([{v: 'a', n: 9, distinct: 2, total: 10, nulls: 1}], 'c').nulls).toBe(1);
    expect(topValuesQuery('from t', "it's")).toContain(`"it's"::VARCHAR`);
  });
});
