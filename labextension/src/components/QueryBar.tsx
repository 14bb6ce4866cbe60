import React, { useEffect, useState } from 'react';
import type { QueryState } from '../panelModel';
import { formatCount, formatDuration } from '../format';

export interface IQueryBarProps {
  query: QueryState;
  canRun: boolean;
  now(): number;
  onRun(): void;
  onCancel(): void;
}

/** Run and Cancel, and what the last query did. */
export function QueryBar(props: IQueryBarProps): JSX.Element {
  const { query, canRun, now, onRun, onCancel } = props;
  const running = query.kind === 'running';
  return (
    <div className="jp-SqlRooms-queryBar">
      <button
        className="jp-mod-styled jp-mod-accept jp-SqlRooms-runButton"
        onClick={onRun}
        disabled={!canRun || running}
        title="Run (Ctrl+Enter)"
      >
        Run
      </button>
      <button
        className="jp-mod-styled jp-mod-warn jp-SqlRooms-cancelButton"
        onClick={onCancel}
        disabled={!running}
      >
        Cancel
      </button>
      <span className="jp-SqlRooms-queryStatus" aria-live="polite">
        <QueryStatusText query={query} now={now} />
      </span>
    </div>
  );
}

function QueryStatusText(props: {
  query: QueryState;
  now(): number;
}): JSX.Element | null {
  const { query, now } = props;
  switch (query.kind) {
    case 'idle':
      return null;
    case 'running':
      return <RunningFor startedAt={query.startedAt} now={now} />;
    case 'done': {
      const { totalRows, rows } = query.result;
      const shown =
        rows.length < totalRows
          ? ` (first ${formatCount(rows.length)} shown)`
          : '';
      const refreshed = query.refreshedBy
        ? ' \u00B7 refreshed: a table changed'
        : '';
      return (
        <>
          {formatCount(totalRows)} {totalRows === 1 ? 'row' : 'rows'}
          {shown} in {formatDuration(query.elapsedMs)}
          {refreshed}
        </>
      );
    }
    case 'failed':
      return <>Failed after {formatDuration(query.elapsedMs)}</>;
    case 'cancelled':
      return <>Cancelled after {formatDuration(query.elapsedMs)}</>;
  }
}

const TICK_MS = 100;

function RunningFor(props: { startedAt: number; now(): number }): JSX.Element {
  const { startedAt, now } = props;
  const [elapsed, setElapsed] = useState(now() - startedAt);
  useEffect(() => {
    const timer = setInterval(() => setElapsed(now() - startedAt), TICK_MS);
    return () => clearInterval(timer);
  }, [startedAt, now]);
  return <>Running… {formatDuration(elapsed)}</>;
}
