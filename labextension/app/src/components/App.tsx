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
import {useCallback, useState} from 'react';
import {AppContext, type AppContextValue, useApp, useAppState} from '../appContext';
import {isFramed, postToPanel, type Theme} from '../bridge';
import {useCollaboration} from '../collab';
import {CATALOG_CHANNEL, useChannelWatcher, useTableWatcher} from '../live';
import {makeRun, type Run} from '../runs';
import {notebookCell} from '../statements';
import type {ConnectionStatus} from '../store';
import {addTab, closeTab, recordRun, selectedTab, selectTab, updateTab} from '../workspace';
import {Charts} from './Charts';
import {HistoryList} from './HistoryList';
import {QueryEditor} from './QueryEditor';
import {Results} from './Results';
import {SchemaPanel} from './SchemaPanel';
import {TabBar} from './TabBar';

const CATALOG_CHANNEL_LIST = [CATALOG_CHANNEL];

type Props = {
  value: AppContextValue;
  status: ConnectionStatus;
  theme: Theme;
  onToggleTheme: () => void;
};

function Header({status, theme, onToggleTheme}: Omit<Props, 'value'>) {
  const {connection} = useApp();
  const where =
    connection.mode === 'kernel' ? `kernel ${connection.kernelId.slice(0, 8)}` : 'server';
  const dot =
    status === 'connected' ? 'bg-green-500' : status === 'connecting' ? 'bg-yellow-500' : 'bg-red-500';
  return (
    <header className="flex items-center gap-3 border-b px-3 py-1.5 text-sm">
      <span className="font-semibold">SQLRooms</span>
      <span className="text-muted-foreground flex items-center gap-1.5 text-xs" data-testid="status">
        <span className={`inline-block h-2 w-2 rounded-full ${dot}`} />
        {status} · {where}
      </span>
      <span className="flex-1" />
      {!isFramed() && (
        <Button size="xs" variant="ghost" onClick={onToggleTheme} aria-label="Toggle dark theme">
          {theme === 'dark' ? 'Light' : 'Dark'}
        </Button>
      )}
    </header>
  );
}

function Workbench() {
  const {connection} = useApp();
  const ws = useAppState((s) => s.workspace.state);
  const update = useAppState((s) => s.workspace.update);
  const refreshTableSchemas = useAppState((s) => s.db.refreshTableSchemas);
  const tableNames = useAppState((s) => s.db.tables.map((t) => t.table.table).join('\n'));
  const [runs, setRuns] = useState<Record<string, Run>>({});
  const [view, setView] = useState('results');
  const tab = selectedTab(ws);
  const run = runs[tab.id];

  const runSql = useCallback(
    (sql: string) => {
      setRuns((r) => ({...r, [tab.id]: makeRun(sql)}));
      update((w) => recordRun(w, {sql, at: Date.now(), ms: null, error: null}));
    },
    [tab.id, update],
  );

  const refreshAll = useCallback(() => {
    refreshTableSchemas().catch(() => undefined);
    setRuns((r) =>
      Object.fromEntries(Object.entries(r).map(([id, old]) => [id, makeRun(old.sql)])),
    );
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

  const preview = (sql: string) => {
    update((w) => updateTab(w, w.selectedTabId, {sql}));
    runSql(sql);
    setView('results');
  };

  const insertIntoNotebook = () => {
    const sql = run?.sql ?? tab.sql.trim();
    if (sql) postToPanel({source: 'sqlrooms-app', type: 'insert-cell', code: notebookCell(sql)});
  };

  return (
    <ResizablePanelGroup orientation="horizontal" className="min-h-0 flex-1">
      <ResizablePanel defaultSize="22%" minSize="10%">
        <SchemaPanel onPreview={preview} />
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
                  <Button size="xs" onClick={() => tab.sql.trim() && runSql(tab.sql.trim().replace(/;+\s*$/, ''))}>
                    Run all
                  </Button>
                  <span className="text-muted-foreground min-w-0 truncate text-xs" title="Ctrl/Cmd+Enter runs the statement under the cursor">Ctrl/Cmd+Enter runs the statement under the cursor</span>
                  <span className="flex-1" />
                  {isFramed() && (
                    <Button size="xs" variant="outline" onClick={insertIntoNotebook}>
                      Insert into notebook
                    </Button>
                  )}
                  <Button
                    size="xs"
                    variant="outline"
                    onClick={() => navigator.clipboard?.writeText(notebookCell(run?.sql ?? tab.sql))}
                  >
                    Copy as cell
                  </Button>
                </div>
                <div className="min-h-0 flex-1 overflow-auto">
                  <QueryEditor
                    key={tab.id}
                    value={tab.sql}
                    onChange={(sql) => update((w) => updateTab(w, tab.id, {sql}))}
                    onRun={runSql}
                  />
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
                  <Results run={run} onCommandDone={() => refreshTableSchemas().catch(() => undefined)} />
                </TabsContent>
                <TabsContent value="charts" className="min-h-0 flex-1 overflow-hidden">
                  <Charts
                    run={run}
                    charts={tab.charts}
                    onChange={(charts) => update((w) => updateTab(w, tab.id, {charts}))}
                  />
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

export function App({value, status, theme, onToggleTheme}: Props) {
  return (
    <AppContext.Provider value={value}>
      <RoomStateProvider roomStore={value.store.roomStore}>
        <TooltipProvider>
          <div className="bg-background text-foreground flex h-screen flex-col">
            <Header status={status} theme={theme} onToggleTheme={onToggleTheme} />
            <Workbench />
          </div>
        </TooltipProvider>
      </RoomStateProvider>
    </AppContext.Provider>
  );
}
