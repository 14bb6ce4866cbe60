import {describe, expect, it} from 'vitest';
import {compactCount, shortTypeLabel} from './typeLabel';

describe('shortTypeLabel', () => {
  it('uses DuckDB short names and drops nested types parameters', () => {
    expect(shortTypeLabel('TIMESTAMP WITH TIME ZONE')).toBe('timestamptz');
    expect(shortTypeLabel('TIMESTAMP WITH TIME ZONE[]')).toBe('timestamptz[]');
    expect(shortTypeLabel('TIME WITH TIME ZONE')).toBe('timetz');
    expect(shortTypeLabel('DECIMAL(12,2)')).toBe('decimal(12,2)');
    expect(shortTypeLabel('STRUCT(a INTEGER, b VARCHAR)[]')).toBe('struct[]');
    expect(shortTypeLabel("ENUM('a', 'b')")).toBe('enum');
    expect(shortTypeLabel('VARCHAR')).toBe('varchar');
  });

  it('counts compactly', () => {
    expect(compactCount(3_000_000)).toBe('3M');
    expect(compactCount(12_500)).toBe('12.5K');
    expect(compactCount(6)).toBe('6');
  });
});
