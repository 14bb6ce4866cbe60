import {RoomStateProvider} from '@sqlrooms/room-store';
import {
  Button,
  ResizableHandle,
  ResizablePanel,
  ResizablePanelGroup,
  Tabs,
  TabsContent,
  TabsList,
  TabsTrigger,
  TooltipProvider,
} from '@sqlrooms/ui';
import {useCallback, useRef, useState} from 'react';
import {AppContext, type AppContextValue, useApp, useAppState} from '../appContext';
import {isFramed, postToPanel, type Theme} from '../bridge';
import {useCollaboration} from '../collab';
import {CATALOG_CHANNEL, useChannelWatcher, useTableWatcher} from '../live';
import type {ErrorMark} from '../errorMark';
import {makeRun, rerun, runOf, runOfPicked, type Run} from '../runs';
import {freshName, isPageable, notebookCell, statementsOf, type Statement} from '../statements';
import type {ConnectionStatus} from '../store';
import {
  addTab,
  closeTab,
  newId,
  recordFailure,
  recordRun,
  selectedTab,
  selectTab,
  updateTab,
} from '../workspace';
import {Charts} from './Charts';
import {ErrorBoundary} from './ErrorBoundary';
import {HistoryList} from './HistoryList';
import {QueryEditor} from './QueryEditor';
import {ErrorMarkContext, RunFailedContext} from './RunStatus';
import {RunView} from './RunView';
import {SchemaPanel} from './SchemaPanel';
import {TabBar} from './TabBar';
import {TokenPrompt} from './TokenPrompt';

const CATALOG_CHANNEL_LIST = [CATALOG_CHANNEL];

/** What the server lets this app do, learnt at start (config.json, a first query). */
export type ServerAccess = {readOnly: boolean; tokenRefused: boolean};

type Props = {
  value: AppContextValue;
  status: ConnectionStatus;
  access: ServerAccess;
  theme: Theme;
  onToggleTheme: () => void;
};

function Header({status, access, theme, onToggleTheme}: Omit<Props, 'value'>) {
  const {connection} = useApp();
  const where =
    connection.mode === 'kernel' ? `kernel ${connection.kernelId.slice(0, 8)}` : 'server';
  const dot =
    status === 'connected'
      ? 'bg-green-500'
      : status === 'connecting'
        ? 'bg-yellow-500'
        : 'bg-red-500';
  return (
    <header className="flex items-center gap-3 border-b px-3 py-1.5 text-sm">
      <span className="font-semibold">SQLRooms</span>
      <span
        className="text-muted-foreground flex items-center gap-1.5 text-xs"
        data-testid="status"
      >
        <span className={`inline-block h-2 w-2 rounded-full ${dot}`} />
        {status} · {where}
      </span>
      {access.readOnly && (
        <span
          className="rounded border border-amber-500 px-1.5 text-xs text-amber-700 dark:text-amber-300"
          title="This server is read-only: queries run, changes (CREATE, INSERT, …) are refused"
        >
          read-only
        </span>
      )}
      <span className="flex-1" />
      {!isFramed() && (
        <Button size="xs" variant="ghost" onClick={onToggleTheme} aria-label="Toggle dark theme">
          {theme === 'dark' ? 'Light' : 'Dark'}
        </Button>
      )}
    </header>
  );
}

/** The token prompt: a standalone app whose token was refused, or that has none and cannot connect. */
function needsToken(
  connection: AppContextValue['connection'],
  status: ConnectionStatus,
  access: ServerAccess,
): boolean {
  if (connection.mode !== 'standalone') return false;
  return access.tokenRefused || (!connection.hasToken && status === 'disconnected');
}

const CELL_COUNTER_KEY = 'sqlrooms-app:cell-counter';

/** `result_N` for a copied cell, counting up in this browser so pasted cells do not collide. */
function nextCellName(): string {
  let n = 0;
  try {
    n = Number(localStorage.getItem(CELL_COUNTER_KEY)) || 0;
    localStorage.setItem(CELL_COUNTER_KEY, String(n + 1));
  } catch {
    // no storage: result_1
  }
  return freshName(Array.from({length: n}, (_, i) => `result_${i + 1}`));
}

function Workbench() {
  const {connection} = useApp();
  const ws = useAppState((s) => s.workspace.state);
  const update = useAppState((s) => s.workspace.update);
  const refreshTableSchemas = useAppState((s) => s.db.refreshTableSchemas);
  const tableNames = useAppState((s) => s.db.tables.map((t) => t.table.table).join('\n'));
  const [runs, setRuns] = useState<Record<string, Run>>({});
  const [view, setView] = useState('results');
  const [mark, setMark] = useState<{tabId: string; mark: ErrorMark} | null>(null);
  /** What each tab's run put in the history, to mark it when the run fails. */
  const recordedSql = useRef<Record<string, string>>({});
  const tab = selectedTab(ws);
  const run = runs[tab.id];

  const startRun = useCallback(
    (tabId: string, next: Run | null, recorded: string) => {
      if (!next) return;
      setMark(null);
      setRuns((r) => ({...r, [tabId]: next}));
      recordedSql.current[tabId] = recorded;
      update((w) => recordRun(w, {sql: recorded, at: Date.now(), ms: null, error: null}));
    },
    [update],
  );

  /** Ctrl/Cmd+Enter: the statement under the cursor, or the selection (maybe a script). */
  const runPicked = useCallback(
    (picked: Statement) => startRun(tab.id, runOfPicked(tab.sql, picked), picked.sql),
    [startRun, tab.id, tab.sql],
  );

  /** Run all: every statement of the tab, one by one; the last one's result is shown. */
  const runAll = () => startRun(tab.id, runOf(tab.sql, statementsOf(tab.sql)), tab.sql.trim());

  /** The Charts panel's button after a reload: the tab's visible SQL, when it is one query. */
  const tabStatements = statementsOf(tab.sql);
  const runTab =
    tabStatements.length === 1 && isPageable(tabStatements[0].sql)
      ? () => startRun(tab.id, runOf(tab.sql, tabStatements), tabStatements[0].sql)
      : undefined;

  const markError = useCallback(
    (m: ErrorMark | null) => setMark(m ? {tabId: tab.id, mark: m} : null),
    [tab.id],
  );

  const runFailed = useCallback(
    (message: string) => {
      const sql = recordedSql.current[tab.id];
      if (sql) update((w) => recordFailure(w, sql, message));
    },
    [tab.id, update],
  );

  const refreshAll = useCallback(() => {
    refreshTableSchemas().catch(() => undefined);
    // Live refresh re-runs what each tab shows, never a script's other statements.
    setRuns((r) => Object.fromEntries(Object.entries(r).map(([id, old]) => [id, rerun(old)])));
  }, [refreshTableSchemas]);

  useTableWatcher(connection.wsUrl, tableNames ? tableNames.split('\n') : [], refreshAll);
  // New shares appear in the schema tree without ↻.
  useChannelWatcher(
    connection.wsUrl,
    CATALOG_CHANNEL_LIST,
    () => {
      refreshTableSchemas().catch(() => undefined);
    },
    {catchUp: true},
  );
  useCollaboration();

  const refreshSchemas = useCallback(() => {
    refreshTableSchemas().catch(() => undefined);
  }, [refreshTableSchemas]);

  /** A table's preview opens in a tab of its own: the current tab's SQL stays as it is. */
  const preview = (sql: string, table: string) => {
    const id = newId('tab');
    update((w) => addTab(w, sql, table, id));
    startRun(id, makeRun(sql), sql);
    setView('results');
  };

  /** The cell for what the tab shows; JupyterLab renames `result_N` to one the kernel lacks. */
  const cellCode = () => {
    const sql = run?.sql ?? tab.sql.trim();
    return sql ? notebookCell(sql, nextCellName()) : null;
  };

  const insertIntoNotebook = () => {
    const code = cellCode();
    if (code) postToPanel({source: 'sqlrooms-app', type: 'insert-cell', code});
  };

  return (
    <ResizablePanelGroup orientation="horizontal" className="min-h-0 flex-1">
      <ResizablePanel defaultSize="22%" minSize="10%">
        <ErrorBoundary label="The schema">
          <SchemaPanel onPreview={preview} />
        </ErrorBoundary>
      </ResizablePanel>
      <ResizableHandle />
      <ResizablePanel>
        <div className="flex h-full flex-col">
          <TabBar
            tabs={ws.tabs}
            selectedId={tab.id}
            onSelect={(id) => update((w) => selectTab(w, id))}
            onClose={(id) => update((w) => closeTab(w, id))}
            onAdd={() => update((w) => addTab(w))}
          />
          <ResizablePanelGroup orientation="vertical" className="min-h-0 flex-1">
            <ResizablePanel defaultSize="35%" minSize="10%">
              <div className="flex h-full flex-col">
                <div className="flex items-center gap-2 border-b px-2 py-1 [&>button]:shrink-0">
                  <Button size="xs" onClick={runAll}>
                    Run all
                  </Button>
                  <span
                    className="text-muted-foreground min-w-0 truncate text-xs"
                    title="Ctrl/Cmd+Enter runs the statement under the cursor"
                  >
                    Ctrl/Cmd+Enter runs the statement under the cursor
                  </span>
                  <span className="flex-1" />
                  {isFramed() && (
                    <Button size="xs" variant="outline" onClick={insertIntoNotebook}>
                      Insert into notebook
                    </Button>
                  )}
                  <Button
                    size="xs"
                    variant="outline"
                    onClick={() => {
                      const code = cellCode();
                      if (code) navigator.clipboard?.writeText(code).catch(() => undefined);
                    }}
                  >
                    Copy as cell
                  </Button>
                </div>
                <div className="min-h-0 flex-1 overflow-auto">
                  <ErrorBoundary label="The editor" resetKey={tab.id}>
                    <QueryEditor
                      key={tab.id}
                      value={tab.sql}
                      onChange={(sql) => update((w) => updateTab(w, tab.id, {sql}))}
                      onRun={runPicked}
                      errorMark={mark?.tabId === tab.id ? mark.mark : null}
                    />
                  </ErrorBoundary>
                </div>
              </div>
            </ResizablePanel>
            <ResizableHandle />
            <ResizablePanel minSize="15%">
              <Tabs value={view} onValueChange={setView} className="flex h-full flex-col gap-0">
                <TabsList className="mx-2 mt-1">
                  <TabsTrigger value="results">Results</TabsTrigger>
                  <TabsTrigger value="charts">Charts</TabsTrigger>
                  <TabsTrigger value="history">History</TabsTrigger>
                </TabsList>
                <TabsContent value="results" className="min-h-0 flex-1 overflow-hidden">
                  <ErrorMarkContext.Provider value={markError}>
                    <RunFailedContext.Provider value={runFailed}>
                      <RunView run={run} onCommandDone={refreshSchemas} />
                    </RunFailedContext.Provider>
                  </ErrorMarkContext.Provider>
                </TabsContent>
                <TabsContent value="charts" className="min-h-0 flex-1 overflow-hidden">
                  <ErrorBoundary label="The charts" resetKey={run?.version}>
                    <Charts
                      run={run}
                      charts={tab.charts}
                      onRunTab={runTab}
                      onChange={(charts) => update((w) => updateTab(w, tab.id, {charts}))}
                    />
                  </ErrorBoundary>
                </TabsContent>
                <TabsContent value="history" className="min-h-0 flex-1 overflow-hidden">
                  <HistoryList
                    history={ws.history}
                    onPick={(sql) => {
                      update((w) => updateTab(w, tab.id, {sql}));
                      setView('results');
                    }}
                  />
                </TabsContent>
              </Tabs>
            </ResizablePanel>
          </ResizablePanelGroup>
        </div>
      </ResizablePanel>
    </ResizablePanelGroup>
  );
}

export function App({value, status, access, theme, onToggleTheme}: Props) {
  return (
    <AppContext.Provider value={value}>
      <RoomStateProvider roomStore={value.store.roomStore}>
        <TooltipProvider>
          <div className="bg-background text-foreground flex h-screen flex-col">
            <Header status={status} access={access} theme={theme} onToggleTheme={onToggleTheme} />
            {needsToken(value.connection, status, access) && (
              <TokenPrompt
                refused={
                  access.tokenRefused &&
                  value.connection.mode === 'standalone' &&
                  value.connection.hasToken
                }
              />
            )}
            <ErrorBoundary label="The workbench">
              <Workbench />
            </ErrorBoundary>
          </div>
        </TooltipProvider>
      </RoomStateProvider>
    </AppContext.Provider>
  );
}
