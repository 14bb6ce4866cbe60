import {execFileSync} from 'node:child_process';
import {describe, expect, it} from 'vitest';
import {isPageable, leadingKeyword, notebookCell, statementSpans, statementToRun} from './statements';

describe('statementToRun', () => {
  const text = "select 1;\nselect ';' as x; -- a;b\nselect 3";

  it('runs the statement under the cursor', () => {
    expect(statementToRun(text, {from: 3, to: 3})).toBe('select 1');
    expect(statementToRun(text, {from: 15, to: 15})).toBe("select ';' as x");
    expect(statementToRun(text, {from: text.length, to: text.length})).toBe('-- a;b\nselect 3');
  });

  it('runs the selection when there is one', () => {
    expect(statementToRun(text, {from: 0, to: 8})).toBe('select 1');
  });

  it('runs the previous statement from after a trailing semicolon', () => {
    expect(statementToRun('select 42;\n\n', {from: 12, to: 12})).toBe('select 42');
  });

  it('ignores semicolons in strings and comments', () => {
    expect(statementSpans("select ';'; /* ; */ select 2").length).toBe(2);
  });
});

describe('isPageable', () => {
  it('pages queries and not commands', () => {
    expect(isPageable('SELECT 1')).toBe(true);
    expect(isPageable('-- note\n with t as (select 1) select * from t')).toBe(true);
    expect(isPageable('from trips')).toBe(true);
    expect(isPageable('create table t as select 1')).toBe(false);
    expect(isPageable('explain select 1')).toBe(false);
    expect(leadingKeyword('/* x */ (SELECT 1)')).toBe('select');
  });
});

describe('notebookCell', () => {
  it('wraps the SQL in duckdb.sql', () => {
    expect(notebookCell('select * from trips')).toBe(
      'df = duckdb.sql("""select * from trips""").df()',
    );
  });

  it('round-trips through a Python string literal', () => {
    const tricky = ['select \'a\\b\' as """x"""', 'select 1 as "x"', '""""', 'a\\', 'x"\n"'];
    for (const sql of tricky) {
      const literal = /^df = duckdb\.sql\(([\s\S]*)\)\.df\(\)$/.exec(notebookCell(sql))![1];
      const parsed = execFileSync(
        'python3',
        ['-c', 'import ast,sys; sys.stdout.write(ast.literal_eval(sys.stdin.read()))'],
        {input: literal, encoding: 'utf8'},
      );
      expect(parsed).toBe(sql.trim());
    }
  });
});
