/** A run's error, placed in what the user wrote (and marked in the editor), and "Done". */
import {createContext, useContext, useEffect, useState} from 'react';
import {useApp} from '../appContext';
import type {ErrorMark} from '../errorMark';
import {errorPosition, statementError, toUserError, type UserError} from '../errors';
import {doneText, type CommandDone} from '../outcome';
import type {Run} from '../runs';
import {explainQuery, WRAPPER_LINES} from '../statements';

/** Where the editor learns an error's position (App provides it). */
export const ErrorMarkContext = createContext<(mark: ErrorMark | null) => void>(() => undefined);
/** Where the history learns that the shown run failed, and why (App provides it). */
export const RunFailedContext = createContext<(message: string) => void>(() => undefined);

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The message without DuckDB's `LINE n:` excerpt (when it points into the app's wrapper). */
function withoutPosition(message: string): string {
  const position = errorPosition(message);
  return position ? message.slice(0, position.index).trimEnd() : message;
}

type Target = {sql: string; from: number; firstLine: number; index: number};

/** The statement of `run` that is shown (a script's last). */
function shownStatement(run: Run): Target {
  return {sql: run.sql, from: run.from, firstLine: run.firstLine, index: run.count - 1};
}

/**
 * An error of a run, in the user's terms. `wrapperLines`: the statement ran inside wrappers
 * (paging, filters) that put it that many lines down; a position in a wrapper itself (an unfinished statement) is asked again of
 * DuckDB with the statement alone, planned but not run (EXPLAIN).
 */
export function RunError({
  run,
  message,
  wrapperLines = 0,
  statement,
}: {
  run: Run;
  message: string;
  wrapperLines?: number;
  statement?: Target;
}) {
  const {store} = useApp();
  const markError = useContext(ErrorMarkContext);
  const runFailed = useContext(RunFailedContext);
  const target = statement ?? shownStatement(run);
  const [shown, setShown] = useState<UserError | null>(null);
  useEffect(() => {
    let live = true;
    const finish = (error: UserError) => {
      if (!live) return;
      const placed = statementError(error, target.index, run.count, target.firstLine);
      setShown(placed);
      runFailed(placed.message);
      if (error.offset !== null) {
        const from = target.from + error.offset;
        markError({
          from,
          to: from + Math.max(1, error.width),
          message: error.message.split('\n')[0],
        });
      }
    };
    const direct = toUserError(message, target.sql, wrapperLines, target.firstLine);
    if (direct) {
      finish(direct);
    } else {
      const plain = {message: withoutPosition(message), offset: null, width: 0};
      store.queries.query(explainQuery(target.sql)).then(
        () => finish(plain),
        (error: unknown) =>
          finish(
            toUserError(errorText(error), target.sql, WRAPPER_LINES, target.firstLine) ?? plain,
          ),
      );
    }
    return () => {
      live = false;
    };
  }, [message, run.version]);
  return (
    <pre
      role="alert"
      data-testid="run-error"
      className="overflow-auto p-4 text-xs whitespace-pre-wrap text-red-500"
    >
      {shown ? shown.message : withoutPosition(message)}
    </pre>
  );
}

/** A statement without rows to show: "Done", its time, and the rows it changed if DuckDB says. */
export function Done({done, ms, script}: {done: CommandDone; ms?: number; script?: string}) {
  return (
    <div className="text-muted-foreground p-4 text-xs" role="status" data-testid="command-done">
      {doneText(done, ms)}
      {script && <span data-testid="script-time"> ({script})</span>}
    </div>
  );
}
