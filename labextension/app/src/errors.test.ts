import {describe, expect, it} from 'vitest';
import {errorPosition, lineOf, statementError, toUserError} from './errors';

// DuckDB 2.0's messages for `select * from trps` and `select fare from trips where`, wrapped.
const CATALOG =
  'Catalog Error: Table with name trps does not exist!\nDid you mean "trips"?\n\nLINE 2: select * from trps\n                      ^^^^';
const AT_WRAPPER = 'Parser Error: syntax error at or near ")"\n\nLINE 3: ) LIMIT 100\n        ^';
const EXPLAINED =
  'Parser Error: syntax error at or near "where"\n\nLINE 2: select fare from trips where\n                               ^^^^^';

describe('errorPosition', () => {
  it('reads the line, the caret and its width', () => {
    expect(errorPosition(CATALOG)).toMatchObject({line: 2, column: 14, width: 4});
    expect(errorPosition('Conversion Error: no position')).toBeNull();
  });
});

describe('toUserError', () => {
  it("moves a position back into the user's statement", () => {
    const e = toUserError(CATALOG, 'select * from trps', 1);
    expect(e?.message).toContain('LINE 1: select * from trps');
    expect(e?.message).not.toContain('LINE 2');
    expect(e?.offset).toBe(14);
    expect(e?.width).toBe(4);
  });

  it('numbers lines as in the editor', () => {
    const e = toUserError(CATALOG, 'select * from trps', 1, 5);
    expect(e?.message).toContain('LINE 5: select * from trps');
    expect(e?.offset).toBe(14);
  });

  it('finds the offset on a later line of the statement', () => {
    const sql = 'select *\nfrom trps';
    const msg = 'Catalog Error: x\n\nLINE 3: from trps\n             ^';
    expect(toUserError(msg, sql, 1)?.offset).toBe(9 + 5);
  });

  it('finds the position in a long line DuckDB cut', () => {
    const sql = `select ${'x'.repeat(200)} from t`;
    const msg = `Catalog Error: t\n\nLINE 2: ...${'x'.repeat(60)} from t\n${' '.repeat(8 + 3 + 60 + 6)}^`;
    expect(toUserError(msg, sql, 1)?.offset).toBe(sql.length - 1);
  });

  it('says null for a position in the wrapper, and keeps messages without one', () => {
    expect(toUserError(AT_WRAPPER, 'select fare from trips where', 1)).toBeNull();
    expect(toUserError(EXPLAINED, 'select fare from trips where', 1)?.offset).toBe(23);
    expect(toUserError('Conversion Error: x', 'select 1', 1)).toEqual({
      message: 'Conversion Error: x',
      offset: null,
      width: 0,
    });
  });
});

describe('statementError', () => {
  it("names a script's statement", () => {
    const e = {message: 'Parser Error: x', offset: null, width: 0};
    expect(statementError(e, 1, 3, 4).message).toBe('Statement 2 of 3 (line 4): Parser Error: x');
    expect(statementError(e, 0, 1, 1).message).toBe('Parser Error: x');
    expect(lineOf('a\nb\nc', 4)).toBe(3);
  });
});
