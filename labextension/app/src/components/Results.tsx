import {Button} from '@sqlrooms/ui';
import type * as arrow from 'apache-arrow';
import {useEffect, useMemo, useRef, useState} from 'react';
import {useApp} from '../appContext';
import {cellText, describeQuery, type GridColumn, pagedTextQuery, type Sort} from '../format';
import {commandDone} from '../outcome';
import type {Run} from '../runs';
import {countQuery, WRAPPER_LINES} from '../statements';
import {DownloadButtons} from './DownloadButtons';
import {AUTO_PROFILED_COLUMNS, type Filter, filteredSql} from '../profiles';
import {ColumnProfile} from './ColumnProfile';
import {type Page, ResultGrid} from './ResultGrid';
import {Done, RunError} from './RunStatus';

export const PAGE_SIZE = 100;

type Outcome = {
  table?: arrow.Table;
  /** The SQL `table` answers (a newer one may be loading). */
  sql?: string;
  error?: string;
  ms?: number;
  /** When the answer came (performance.now()). */
  finished?: number;
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
      (table) => {
        const finished = performance.now();
        setOutcome({table, sql, ms: finished - started, finished, loading: false});
      },
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

/** A script's run (Run all): its statement count and when its first statement started. */
export type ScriptRun = {count: number; started: number};

function duration(ms: number): string {
  return ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** "All 5 statements · 15.2 s", fixed when the last statement first answers (not per page). */
function useScriptText(script: ScriptRun | undefined, finished: number | undefined) {
  const [text, setText] = useState<string>();
  useEffect(() => {
    if (script && finished !== undefined && text === undefined) {
      setText(`all ${script.count} statements · ${duration(finished - script.started)}`);
    }
  }, [script, finished, text]);
  return text;
}

type FooterProps = {run: Run; ms?: number; script?: string; actions?: React.ReactNode};

function Footer({run, ms, script, actions}: FooterProps) {
  return (
    <>
      {ms !== undefined && <span data-testid="query-time">{ms.toFixed(0)} ms</span>}
      {script && <span data-testid="script-time">({script})</span>}
      {run.pageable && <DownloadButtons sql={run.sql} />}
      {actions}
    </>
  );
}

/** The columns of an answer with DuckDB's type names (from DESCRIBE) where known. */
function gridColumns(table: arrow.Table | undefined, described?: arrow.Table): GridColumn[] {
  const types = new Map<string, string>();
  const names = described?.getChild('column_name');
  const kinds = described?.getChild('column_type');
  for (let i = 0; i < (described?.numRows ?? 0); i++) {
    types.set(String(names?.get(i)), String(kinds?.get(i)));
  }
  return (table?.schema.fields ?? []).map((f) => ({
    name: f.name,
    type: types.get(f.name) ?? arrowTypeName(f.type),
  }));
}

/** A DuckDB-like name for an Arrow type, for answers DESCRIBE cannot describe (commands). */
export function arrowTypeName(type: arrow.DataType): string {
  const text = String(type);
  const known: Record<string, string> = {
    Utf8: 'VARCHAR',
    LargeUtf8: 'VARCHAR',
    Bool: 'BOOLEAN',
    Int8: 'TINYINT',
    Int16: 'SMALLINT',
    Int32: 'INTEGER',
    Int64: 'BIGINT',
    Uint8: 'UTINYINT',
    Uint16: 'USMALLINT',
    Uint32: 'UINTEGER',
    Uint64: 'UBIGINT',
    Float32: 'FLOAT',
    Float64: 'DOUBLE',
    Binary: 'BLOB',
  };
  return known[text] ?? text.split('<')[0].toUpperCase();
}

/** Every cell as text (null for NULL), in column order. */
function textRows(table: arrow.Table | undefined): (string | null)[][] {
  if (!table) return [];
  const vectors = table.schema.fields.map((f) => table.getChild(f.name));
  const rows: (string | null)[][] = [];
  for (let i = 0; i < table.numRows; i++) {
    rows.push(
      vectors.map((v) => {
        const value: unknown = v?.get(i);
        return value === null || value === undefined ? null : cellText(String(value));
      }),
    );
  }
  return rows;
}

/** A query result: pages and sorting run in DuckDB (ORDER BY … OFFSET … LIMIT on the server). */
type ResultProps = {run: Run; script?: ScriptRun; actions?: React.ReactNode};

function PagedResult({run, script, actions}: ResultProps) {
  const [sorting, setSorting] = useState<Sort[]>([]);
  const [page, setPage] = useState<Page>({pageIndex: 0, pageSize: PAGE_SIZE});
  const [filters, setFilters] = useState<Filter[]>([]);
  useEffect(() => {
    setSorting([]);
    setFilters([]);
    setPage((p) => ({...p, pageIndex: 0}));
  }, [run.sql, run.version]);
  const shown = filteredSql(run.sql, filters);
  // The page is the tab's main query: it reports progress; the count and types run beside it.
  const pageSql = pagedTextQuery(shown, sorting, page);
  const answer = useQuery(pageSql, [run.version], {progress: true});
  // The rows on screen keep their own page's numbers while the next page loads.
  const pageOfSql = useRef(new Map<string, Page>());
  pageOfSql.current.set(pageSql, page);
  const shownPage = (answer.sql && pageOfSql.current.get(answer.sql)) || page;
  const count = useQuery(countQuery(shown), [run.version]);
  const described = useQuery(describeQuery(run.sql), [run.version]);
  const columns = useMemo(
    () => gridColumns(answer.table, described.table),
    [answer.table, described.table],
  );
  const rows = useMemo(() => textRows(answer.table), [answer.table]);
  const scriptText = useScriptText(script, answer.finished);
  const numRows = count.table ? Number(count.table.getChild('n')?.get(0) ?? 0) : undefined;
  if (answer.error) {
    // The user's SQL starts a line of its own in the page's wrapper and in the filters' one.
    const wrapperLines = WRAPPER_LINES * (filters.length ? 2 : 1);
    return <RunError run={run} message={answer.error} wrapperLines={wrapperLines} />;
  }
  if (!answer.table && answer.loading) {
    return (
      <Running progress={answer.progress} onCancel={() => (answer.cancel(), count.cancel())} />
    );
  }
  return (
    <ResultGrid
      columns={columns}
      rows={rows}
      numRows={numRows}
      isFetching={answer.loading}
      page={page}
      shownPage={shownPage}
      onPageChange={setPage}
      sorting={sorting}
      onSortingChange={(s) => {
        setSorting(s);
        setPage((p) => ({...p, pageIndex: 0}));
      }}
      columnExtra={(column, index) => (
        <ColumnProfile
          key={`${run.version}`}
          eager={index < AUTO_PROFILED_COLUMNS}
          sql={run.sql}
          column={column}
          filters={filters}
          onFilter={(filter) => {
            setFilters((old) => [
              ...old.filter((f) => f.column !== column.name),
              ...(filter ? [filter] : []),
            ]);
            setPage((p) => ({...p, pageIndex: 0}));
          }}
        />
      )}
      footer={
        <>
          {filters.map((f) => (
            <Button
              key={f.column}
              size="xs"
              variant="secondary"
              title="Remove this filter"
              data-testid="filter-chip"
              onClick={() => setFilters((old) => old.filter((o) => o !== f))}
            >
              {f.label} ✕
            </Button>
          ))}
          <Footer run={run} ms={answer.ms} script={scriptText} actions={actions} />
        </>
      }
    />
  );
}

/** A command (CREATE, INSERT, …): run once, its answer shown as it is. */
function CommandResult({run, script, onDone}: ResultProps & {onDone: () => void}) {
  const outcome = useQuery(run.sql, [run.version], {progress: true});
  const scriptText = useScriptText(script, outcome.finished);
  useEffect(() => {
    if (!outcome.loading && (outcome.table || outcome.error)) onDone();
  }, [outcome.loading]);
  if (outcome.error) return <RunError run={run} message={outcome.error} />;
  if (outcome.loading || !outcome.table) {
    return <Running progress={outcome.progress} onCancel={outcome.cancel} />;
  }
  const done = commandDone(outcome.table);
  if (done) return <Done done={done} ms={outcome.ms} script={scriptText} />;
  return (
    <CommandAnswer
      table={outcome.table}
      footer={<Footer run={run} ms={outcome.ms} script={scriptText} />}
    />
  );
}

/** A command's answer, all rows at once (commands answer with a handful). */
function CommandAnswer({table, footer}: {table: arrow.Table; footer: React.ReactNode}) {
  const columns = useMemo(() => gridColumns(table), [table]);
  const rows = useMemo(() => textRows(table), [table]);
  return <ResultGrid columns={columns} rows={rows} footer={footer} />;
}

export function Results({
  run,
  script,
  actions,
  onCommandDone,
}: {
  run: Run | undefined;
  /** Set when `run` is the last statement of a script (Run all). */
  script?: ScriptRun;
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
    <PagedResult key={`${run.version}`} run={run} script={script} actions={actions} />
  ) : (
    <CommandResult key={`${run.version}`} run={run} script={script} onDone={onCommandDone} />
  );
}
