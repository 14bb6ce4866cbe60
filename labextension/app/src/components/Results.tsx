import {
  DataTableArrowPaginated,
  DataTablePaginated,
  makePagedQuery,
  useArrowDataTable,
} from '@sqlrooms/data-table';
import {Button} from '@sqlrooms/ui';
import type {PaginationState, SortingState} from '@tanstack/react-table';
import type * as arrow from 'apache-arrow';
import {useEffect, useState} from 'react';
import {useApp} from '../appContext';
import type {Run} from '../runs';
import {DownloadButtons} from './DownloadButtons';

export const PAGE_SIZE = 100;

type Outcome = {table?: arrow.Table; error?: string; ms?: number; loading: boolean};

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || /cancel/i.test(error.message));
}

/** Runs `sql` whenever a dependency changes; aborting cancels it on the server. */
function useQuery(sql: string | null, deps: unknown[]): Outcome & {cancel: () => void} {
  const {store} = useApp();
  const [outcome, setOutcome] = useState<Outcome>({loading: false});
  const [controller, setController] = useState<AbortController | null>(null);
  useEffect(() => {
    if (sql === null) return;
    const abort = new AbortController();
    setController(abort);
    setOutcome((o) => ({...o, loading: true, error: undefined}));
    const started = performance.now();
    store.connector
      .query(sql, {signal: abort.signal})
      .then(
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
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [sql, ...deps]);
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

function Running({onCancel}: {onCancel: () => void}) {
  return (
    <div className="flex items-center gap-3 p-3 text-xs" role="status">
      <div className="bg-muted h-1.5 w-40 overflow-hidden rounded">
        <div className="bg-primary h-full w-1/3 animate-pulse" />
      </div>
      <span>
        Running… <Elapsed running />
      </span>
      <Button size="xs" variant="outline" onClick={onCancel}>
        Cancel
      </Button>
    </div>
  );
}

function ErrorBox({message}: {message: string}) {
  return (
    <pre role="alert" className="overflow-auto p-4 text-xs whitespace-pre-wrap text-red-500">
      {message}
    </pre>
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
  const page = useQuery(makePagedQuery(run.sql, sorting, pagination), [run.version]);
  const count = useQuery(`SELECT count(*)::BIGINT AS n FROM (${run.sql})`, [run.version]);
  const arrowData = useArrowDataTable(page.table);
  const rows = count.table ? Number(count.table.getChild('n')?.get(0) ?? 0) : undefined;
  if (page.error) return <ErrorBox message={page.error} />;
  if (!page.table && page.loading) return <Running onCancel={() => (page.cancel(), count.cancel())} />;
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
  const outcome = useQuery(run.sql, [run.version]);
  useEffect(() => {
    if (!outcome.loading && (outcome.table || outcome.error)) onDone();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [outcome.loading]);
  if (outcome.error) return <ErrorBox message={outcome.error} />;
  if (outcome.loading || !outcome.table) return <Running onCancel={outcome.cancel} />;
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
