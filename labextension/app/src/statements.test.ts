import {execFileSync} from 'node:child_process';
import {describe, expect, it} from 'vitest';
import {pagedTextQuery} from './format';
import {filteredSql} from './profiles';
import {
  countQuery,
  freshName,
  isPageable,
  leadingKeyword,
  notebookCell,
  statementAt,
  statementSpans,
  statementsOf,
  statementToRun,
  WRAPPER_LINES,
} from './statements';

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

  it('runs the statement a cursor just after its semicolon ends, not the next one', () => {
    const script = 'select 1;\ndrop table t;';
    expect(statementToRun(script, {from: 9, to: 9})).toBe('select 1');
    expect(statementToRun('select 1;drop table t', {from: 9, to: 9})).toBe('select 1');
    expect(statementToRun(script, {from: 10, to: 10})).toBe('drop table t');
    expect(statementToRun(script, {from: script.length, to: script.length})).toBe('drop table t');
  });

  it('says where the statement starts', () => {
    expect(statementAt('select 1;\n  select 2', {from: 15, to: 15})).toEqual({
      sql: 'select 2',
      from: 12,
    });
    expect(statementAt('  \n', {from: 1, to: 1})).toBeNull();
  });
});

describe('statementSpans', () => {
  const count = (sql: string) => statementSpans(sql).length;

  it('ignores semicolons in strings and comments', () => {
    expect(count("select ';'; /* ; */ select 2")).toBe(2);
    expect(count('select ";" as "a;b"; select 2')).toBe(2);
    expect(count("select 'it''s;'; select 2")).toBe(2);
    expect(count('select 1 -- ; \n; select 2')).toBe(2);
  });

  it('knows dollar quoting, escape strings and nested comments', () => {
    expect(count('select $$a;b$$; select 2')).toBe(2);
    expect(count('select $fn$ ; $$ ; $fn$; select 2')).toBe(2);
    expect(count("select E'a\\';b'; select 2")).toBe(2);
    expect(count("select e'\\\\'; select 2")).toBe(2);
    expect(count('select /* a /* b; */ c; */ 1; select 2')).toBe(2);
    // `$1` is a parameter, not a quote; `'` after an identifier ending in e is a plain string.
    expect(count("select $1; select 'x'")).toBe(2);
    expect(count("select some'a\\'; select 2")).toBe(2);
  });

  it('leaves out statements that are only comments', () => {
    expect(statementsOf('select 1;\n-- done\n')).toEqual([{sql: 'select 1', from: 0}]);
    expect(statementsOf(';;\n/* x */;')).toEqual([]);
  });

  it('splits a script with positions', () => {
    expect(statementsOf('select 1 as a;\nselect 2 as b;')).toEqual([
      {sql: 'select 1 as a', from: 0},
      {sql: 'select 2 as b', from: 15},
    ]);
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

  it('pages only a single statement', () => {
    expect(isPageable('select 1; select 2')).toBe(false);
    expect(isPageable('select 1;')).toBe(true);
  });
});

describe('the paging wrapper', () => {
  it('puts the SQL on lines of its own, so a trailing comment cannot swallow the rest', () => {
    const sql = 'select 1 -- note';
    const page = pagedTextQuery(sql, [{id: 'a"b', desc: true}], {pageIndex: 2, pageSize: 100});
    expect(page.split('\n')[WRAPPER_LINES]).toBe(sql);
    expect(page).toContain('\n) ORDER BY "a""b" DESC NULLS LAST OFFSET 200 LIMIT 100');
    expect(countQuery('from t').split('\n')[WRAPPER_LINES]).toBe('from t');
    // A filter wraps once more: the SQL is WRAPPER_LINES further down (Results maps errors so).
    const filtered = filteredSql(sql, [{column: 'x', predicate: 'x = 1', label: 'x = 1'}]);
    expect(
      pagedTextQuery(filtered, [], {pageIndex: 0, pageSize: 1}).split('\n')[2 * WRAPPER_LINES],
    ).toBe(sql);
  });
});

describe('notebookCell', () => {
  it('imports duckdb and assigns the name it is given', () => {
    expect(notebookCell('select * from trips', 'result_2')).toBe(
      'import duckdb\n\nresult_2 = duckdb.sql("""select * from trips""").df()\nresult_2',
    );
  });

  it('picks a name nothing uses', () => {
    expect(freshName([])).toBe('result_1');
    expect(freshName(['result_1', 'df', 'result_3'])).toBe('result_2');
  });

  it('round-trips through a Python string literal', () => {
    const tricky = ['select \'a\\b\' as """x"""', 'select 1 as "x"', '""""', 'a\\', 'x"\n"'];
    for (const sql of tricky) {
      const cell = notebookCell(sql, 'result_1');
      const literal = /result_1 = duckdb\.sql\(([\s\S]*)\)\.df\(\)\nresult_1$/.exec(cell)![1];
      const parsed = execFileSync(
        'python3',
        ['-c', 'import ast,sys; sys.stdout.write(ast.literal_eval(sys.stdin.read()))'],
        {input: literal, encoding: 'utf8'},
      );
      expect(parsed).toBe(sql.trim());
    }
  });
});
