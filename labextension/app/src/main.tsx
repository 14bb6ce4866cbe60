import {createRoot} from 'react-dom/client';
import {useEffect, useState} from 'react';
import {
  applyTheme,
  initialTheme,
  listenToPanel,
  postToPanel,
  requestPanelState,
  type Theme,
} from './bridge';
import {connectionFor, takeToken, tokenFromHash, type Connection} from './connection';
import {App} from './components/App';
import {
  debounced,
  layered,
  isReadOnlyConfig,
  localStore,
  panelStore,
  seedOnly,
  uiStateStore,
  uiStateTableOf,
  type Store,
} from './persistence';
import {ProgressQueryClient} from './queryClient';
import {createAppStore, storageKey, type AppStore, type ConnectionStatus} from './store';
import {parseWorkspace} from './workspace';
import './index.css';

/** How long a framed app waits for the panel's saved state before using its own. */
const PANEL_STATE_TIMEOUT_MS = 3000;
const SAVE_DEBOUNCE_MS = 400;

async function appConfig(): Promise<unknown> {
  try {
    const answer = await fetch('config.json', {cache: 'no-store'});
    return answer.ok ? await answer.json() : null;
  } catch {
    return null;
  }
}

/** Where this app's workspace is saved: see persistence.ts. */
async function workspaceStore(connection: Connection, queries: ProgressQueryClient) {
  const local = localStore(storageKey(connection));
  const stores: Store[] = [];
  const panel = await requestPanelState(PANEL_STATE_TIMEOUT_MS);
  if (panel?.persistent) {
    stores.push(
      panelStore(panel.state, (state) =>
        postToPanel({source: 'sqlrooms-app', type: 'state-changed', state}),
      ),
    );
  } else if (!panel && connection.mode === 'standalone') {
    const config = await appConfig();
    const table = uiStateTableOf(config);
    if (table && isReadOnlyConfig(config))
      return layered([local, seedOnly(uiStateStore(queries, table))]);
    if (table) stores.push(uiStateStore(queries, table));
  }
  return layered([...stores, local]);
}

let setStatus: (s: ConnectionStatus) => void = () => undefined;

function Root({store}: {store: AppStore}) {
  const connection = store.connection;
  const [status, setState] = useState<ConnectionStatus>('connecting');
  const [theme, setTheme] = useState<Theme>(() =>
    initialTheme(
      window.location.search,
      window.matchMedia?.('(prefers-color-scheme: dark)').matches,
    ),
  );
  setStatus = setState;
  useEffect(() => applyTheme(theme), [theme]);
  useEffect(() => listenToPanel((m) => m.type === 'theme' && setTheme(m.theme)), []);
  return (
    <App
      value={{store, connection}}
      status={status}
      theme={theme}
      onToggleTheme={() => setTheme((t) => (t === 'dark' ? 'light' : 'dark'))}
    />
  );
}

function sessionStorageOrNull(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // a sandboxed frame
  }
}

async function start(): Promise<void> {
  const savedToken = takeToken(window.location, sessionStorageOrNull(), window.history);
  const connection = connectionFor(window.location, {
    allowWsParam: import.meta.env.DEV,
    savedToken,
  });
  const queries = new ProgressQueryClient(connection.wsUrl);
  const saved = await workspaceStore(connection, queries);
  const initial = parseWorkspace(await saved.load());
  const saver = debounced((text) => void saved.save(text), SAVE_DEBOUNCE_MS);
  window.addEventListener('pagehide', () => saver.flush());
  if (connection.mode === 'standalone') {
    // A token given later (the prompt, or a pasted `#token=` link) connects without a manual
    // reload: the reload takes it from the fragment as on first load.
    window.addEventListener('hashchange', () => {
      if (!tokenFromHash(window.location.hash)) return;
      saver.flush();
      window.location.reload();
    });
  }
  const store = createAppStore({
    connection,
    queries,
    initial,
    onWorkspace: (ws) => saver.push(ws),
    onStatus: (s) => setStatus(s),
  });
  store.roomStore
    .getState()
    .room.initialize()
    .catch((error: unknown) => console.error('SQLRooms app failed to start', error));
  createRoot(document.getElementById('root')!).render(<Root store={store} />);
}

start().catch((error: unknown) => console.error('SQLRooms app failed to start', error));
