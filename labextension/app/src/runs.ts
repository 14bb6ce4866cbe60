/** What a tab last ran; kept in memory only (results are re-run, not saved). */
import {lineOf} from './errors';
import {isPageable, statementsOf, type Statement} from './statements';

export type Run = {
  /** The statement whose result is shown (a script's last one). */
  sql: string;
  pageable: boolean;
  version: number;
  /** Where `sql` starts in the editor: offset and 1-based line (to place its errors). */
  from: number;
  firstLine: number;
  /** A script's statements before `sql`, run one by one first (Run all). */
  before: Statement[];
  /** The lines those start on, and the script's statement count. */
  beforeLines: number[];
  count: number;
};

/** A run of `statements` from the editor's `text`; null when there is nothing to run. */
export function runOf(text: string, statements: Statement[], version = Date.now()): Run | null {
  const last = statements[statements.length - 1];
  if (!last) return null;
  const before = statements.slice(0, -1);
  return {
    sql: last.sql,
    pageable: isPageable(last.sql),
    version,
    from: last.from,
    firstLine: lineOf(text, last.from),
    before,
    beforeLines: before.map((s) => lineOf(text, s.from)),
    count: statements.length,
  };
}

/** Ctrl+Enter on `picked` (the statement under the cursor, or the selection, maybe a script). */
export function runOfPicked(text: string, picked: Statement, version?: number): Run | null {
  const statements = statementsOf(picked.sql).map((s) => ({...s, from: s.from + picked.from}));
  return runOf(text, statements, version);
}

/** The same run again (live refresh): the shown statement only, never a script's others. */
export function rerun(run: Run, version = Date.now()): Run {
  return {...run, version, before: [], beforeLines: [], count: 1};
}

/** A run of one statement that is not in the editor (a table preview). */
export function makeRun(sql: string, version = Date.now()): Run {
  return {
    sql,
    pageable: isPageable(sql),
    version,
    from: 0,
    firstLine: 1,
    before: [],
    beforeLines: [],
    count: 1,
  };
}
