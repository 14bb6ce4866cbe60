/**
 * How a run plays out around the results grid: a script's statements one by one (stopping at
 * the first error, which names its statement), "Done" for statements without rows, and errors
 * placed in what the user wrote (and marked in the editor).
 */
import {Button} from '@sqlrooms/ui';
import {useEffect, useState} from 'react';
import {useApp} from '../appContext';
import type {Run} from '../runs';
import {ErrorBoundary} from './ErrorBoundary';
import {Results} from './Results';
import {errorText, RunError} from './RunStatus';

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || /cancel/i.test(error.message));
}

type ScriptState =
  | {phase: 'running'; step: number}
  | {phase: 'failed'; step: number; message: string}
  | {phase: 'last'};

/** Run all on a script: the statements before the last, one by one, then the last's result. */
function Script({run, onCommandDone}: {run: Run; onCommandDone: () => void}) {
  const {store} = useApp();
  const [state, setState] = useState<ScriptState>({phase: 'running', step: 0});
  const [controller] = useState(() => new AbortController());
  const [started] = useState(() => performance.now());
  useEffect(() => {
    const {signal} = controller;
    void (async () => {
      for (let step = 0; step < run.before.length; step++) {
        setState({phase: 'running', step});
        try {
          await store.queries.query(run.before[step].sql, {signal});
        } catch (error) {
          if (signal.aborted && !isAbort(error)) return;
          setState({
            phase: 'failed',
            step,
            message: isAbort(error) ? 'Cancelled' : errorText(error),
          });
          onCommandDone();
          return;
        }
      }
      if (!signal.aborted) setState({phase: 'last'});
    })();
    return () => controller.abort();
  }, []);
  if (state.phase === 'failed') {
    const statement = {
      ...run.before[state.step],
      firstLine: run.beforeLines[state.step],
      index: state.step,
    };
    return <RunError run={run} message={state.message} statement={statement} />;
  }
  if (state.phase === 'running') {
    return (
      <div
        className="flex items-center gap-3 p-3 text-xs"
        role="status"
        data-testid="script-progress"
      >
        <span>
          Running statement {state.step + 1} of {run.count}…
        </span>
        <Button size="xs" variant="outline" onClick={() => controller.abort()}>
          Cancel
        </Button>
      </div>
    );
  }
  // Its tables are new to the tree (and to the last statement's completion).
  return <LastStatement run={run} started={started} onCommandDone={onCommandDone} />;
}

function LastStatement({
  run,
  started,
  onCommandDone,
}: {
  run: Run;
  started: number;
  onCommandDone: () => void;
}) {
  useEffect(() => onCommandDone(), []);
  return (
    <Results
      run={{...run, before: [], beforeLines: []}}
      script={{count: run.count, started}}
      onCommandDone={onCommandDone}
    />
  );
}

/** A tab's results, whatever ran: a render failure stays inside this panel. */
export function RunView({run, onCommandDone}: {run: Run | undefined; onCommandDone: () => void}) {
  return (
    <ErrorBoundary label="The results" resetKey={run?.version}>
      {run && run.before.length > 0 ? (
        <Script key={run.version} run={run} onCommandDone={onCommandDone} />
      ) : (
        <Results run={run} onCommandDone={onCommandDone} />
      )}
    </ErrorBoundary>
  );
}
