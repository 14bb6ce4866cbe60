import {DataTableArrowPaginated, DataTablePaginated, useArrowDataTable} from '@sqlrooms/data-table';
import {Button} from '@sqlrooms/ui';
import type {PaginationState, SortingState} from '@tanstack/react-table';
import type * as arrow from 'apache-arrow';
import {useEffect, useState} from 'react';
import {useApp} from '../appContext';
import {commandDone} from '../outcome';
import type {Run} from '../runs';
import {countQuery, pagedQuery} from '../statements';
import {DownloadButtons} from './DownloadButtons';
import {Done, RunError} from './RunStatus';

export const PAGE_SIZE = 100;

type Outcome = {
  table?: arrow.Table;
  error?: string;
  ms?: number;
  loading: boolean;
  /** DuckDB's estimate (0-100) while it runs, for queries that asked for it. */
  progress?: number;
};

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || /cancel/i.test(error.message));
}

/**
 * Runs `sql` whenever a dependency changes; aborting cancels it on the server. With
 * `progress`, it goes over the app's own socket, which asks the server for progress frames.
 */
function useQuery(
  sql: string | null,
  deps: unknown[],
  {progress = false}: {progress?: boolean} = {},
): Outcome & {cancel: () => void} {
  const {store} = useApp();
  const [outcome, setOutcome] = useState<Outcome>({loading: false});
  const [controller, setController] = useState<AbortController | null>(null);
  useEffect(() => {
    if (sql === null) return;
    const abort = new AbortController();
    setController(abort);
    setOutcome((o) => ({...o, loading: true, error: undefined, progress: undefined}));
    const started = performance.now();
    const answer = progress
      ? store.queries.query(sql, {
          signal: abort.signal,
          onProgress: (p) => {
            if (!abort.signal.aborted) setOutcome((o) => ({...o, progress: p}));
          },
        })
      : store.connector.query(sql, {signal: abort.signal});
    answer.then(
      (table) => setOutcome({table, ms: performance.now() - started, loading: false}),
      (error) => {
        if (abort.signal.aborted && !isAbort(error)) return;
        setOutcome({
          error: isAbort(error) ? 'Cancelled' : errorText(error),
          loading: false,
        });
      },
    );
    return () => abort.abort();
  }, [sql, progress, ...deps]);
  return {...outcome, cancel: () => controller?.abort()};
}

function Elapsed({running}: {running: boolean}) {
  const [start] = useState(() => performance.now());
  const [now, setNow] = useState(start);
  useEffect(() => {
    if (!running) return;
    const timer = window.setInterval(() => setNow(performance.now()), 200);
    return () => window.clearInterval(timer);
  }, [running]);
  return <span>{((now - start) / 1000).toFixed(1)} s</span>;
}

/** A progress bar: DuckDB's percentage once it reports one, a pulse until then. */
function Running({onCancel, progress}: {onCancel: () => void; progress?: number}) {
  const known = progress !== undefined;
  return (
    <div className="flex items-center gap-3 p-3 text-xs" role="status">
      <div
        className="bg-muted h-1.5 w-48 overflow-hidden rounded"
        role="progressbar"
        aria-label="Query progress"
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={known ? Math.round(progress) : undefined}
        data-testid="query-progress"
      >
        {known ? (
          <div
            className="bg-primary h-full transition-[width] duration-300"
            style={{width: `${Math.max(2, progress)}%`}}
          />
        ) : (
          <div className="bg-primary h-full w-1/3 animate-pulse" />
        )}
      </div>
      <span>
        Running… {known && <span data-testid="progress-percent">{progress.toFixed(0)}% · </span>}
        <Elapsed running />
      </span>
      <Button size="xs" variant="outline" onClick={onCancel}>
        Cancel
      </Button>
    </div>
  );
}

type FooterProps = {run: Run; rows?: number; ms?: number; actions?: React.ReactNode};

function Footer({run, rows, ms, actions}: FooterProps) {
  return (
    <div className="text-muted-foreground flex items-center gap-3 text-xs">
      {rows !== undefined && <span data-testid="row-count">{rows.toLocaleString()} rows</span>}
      {ms !== undefined && <span data-testid="query-time">{ms.toFixed(0)} ms</span>}
      {run.pageable && <DownloadButtons sql={run.sql} />}
      {actions}
    </div>
  );
}

/** A query result: pages and sorting run in DuckDB (ORDER BY … OFFSET … LIMIT on the server). */
function PagedResult({run, actions}: {run: Run; actions?: React.ReactNode}) {
  const [sorting, setSorting] = useState<SortingState>([]);
  const [pagination, setPagination] = useState<PaginationState>({
    pageIndex: 0,
    pageSize: PAGE_SIZE,
  });
  useEffect(() => {
    setSorting([]);
    setPagination((p) => ({...p, pageIndex: 0}));
  }, [run.sql, run.version]);
  // The page is the tab's main query: it reports progress; the count runs beside it.
  const page = useQuery(pagedQuery(run.sql, sorting, pagination), [run.version], {
    progress: true,
  });
  const count = useQuery(countQuery(run.sql), [run.version]);
  const arrowData = useArrowDataTable(page.table);
  const rows = count.table ? Number(count.table.getChild('n')?.get(0) ?? 0) : undefined;
  if (page.error) return <RunError run={run} message={page.error} wrapped />;
  if (!page.table && page.loading) {
    return <Running progress={page.progress} onCancel={() => (page.cancel(), count.cancel())} />;
  }
  return (
    <DataTablePaginated
      {...arrowData}
      className="h-full"
      numRows={rows}
      isFetching={page.loading}
      pagination={pagination}
      onPaginationChange={setPagination}
      sorting={sorting}
      onSortingChange={(s) => {
        setSorting(s);
        setPagination((p) => ({...p, pageIndex: 0}));
      }}
      footerActions={<Footer run={run} ms={page.ms} actions={actions} />}
    />
  );
}

/** A command (CREATE, INSERT, …): run once, its answer shown as it is. */
function CommandResult({run, onDone}: {run: Run; onDone: () => void}) {
  const outcome = useQuery(run.sql, [run.version], {progress: true});
  useEffect(() => {
    if (!outcome.loading && (outcome.table || outcome.error)) onDone();
  }, [outcome.loading]);
  if (outcome.error) return <RunError run={run} message={outcome.error} />;
  if (outcome.loading || !outcome.table) {
    return <Running progress={outcome.progress} onCancel={outcome.cancel} />;
  }
  const done = commandDone(outcome.table);
  if (done) return <Done done={done} ms={outcome.ms} />;
  return (
    <DataTableArrowPaginated
      className="h-full"
      table={outcome.table}
      pageSize={PAGE_SIZE}
      footerActions={<Footer run={run} rows={outcome.table.numRows} ms={outcome.ms} />}
    />
  );
}

export function Results({
  run,
  actions,
  onCommandDone,
}: {
  run: Run | undefined;
  actions?: React.ReactNode;
  onCommandDone: () => void;
}) {
  if (!run) {
    return (
      <div className="text-muted-foreground p-4 text-xs">
        Run a query with Ctrl/Cmd+Enter (the statement under the cursor, or the selection).
      </div>
    );
  }
  return run.pageable ? (
    <PagedResult key={`${run.version}`} run={run} actions={actions} />
  ) : (
    <CommandResult key={`${run.version}`} run={run} onDone={onCommandDone} />
  );
}
