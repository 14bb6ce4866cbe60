import {Table, tableFromArrays} from 'apache-arrow';
import {describe, expect, it} from 'vitest';
import {commandDone, doneText} from './outcome';

describe('commandDone', () => {
  it("is Done for the server's ok (a table with no batches)", () => {
    expect(commandDone(new Table())).toEqual({});
  });

  it('reports the rows DuckDB says a DML statement changed', () => {
    expect(commandDone(tableFromArrays({Count: BigInt64Array.from([3n])}))).toEqual({changed: 3});
    expect(doneText({changed: 1}, 12.4)).toBe('Done · 1 row · 12 ms');
    expect(doneText({}, undefined)).toBe('Done');
  });

  it('shows rows otherwise', () => {
    expect(commandDone(tableFromArrays({x: Int32Array.from([1, 2])}))).toBeNull();
  });
});
