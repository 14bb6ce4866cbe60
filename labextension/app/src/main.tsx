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
import {connectionFor, forgetToken, takeToken, tokenFromHash, type Connection} from './connection';
import {App, type ServerAccess} from './components/App';
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
import {ProgressQueryClient, Unauthorized} from './queryClient';
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
async function workspaceStore(
  connection: Connection,
  queries: ProgressQueryClient,
  config: unknown,
) {
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
    const table = uiStateTableOf(config);
    if (table && isReadOnlyConfig(config))
      return layered([local, seedOnly(uiStateStore(queries, table))]);
    if (table) stores.push(uiStateStore(queries, table));
  }
  return layered([...stores, local]);
}

let setStatus: (s: ConnectionStatus) => void = () => undefined;
let setTokenRefused: (refused: boolean) => void = () => undefined;

function Root({store, readOnly}: {store: AppStore; readOnly: boolean}) {
  const connection = store.connection;
  const [status, setState] = useState<ConnectionStatus>('connecting');
  const [tokenRefused, setRefused] = useState(false);
  setTokenRefused = setRefused;
  const access: ServerAccess = {readOnly, tokenRefused};
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
      access={access}
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
  const config = connection.mode === 'standalone' ? await appConfig() : null;
  const saved = await workspaceStore(connection, queries, config);
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
  createRoot(document.getElementById('root')!).render(
    <Root store={store} readOnly={isReadOnlyConfig(config)} />,
  );
  if (connection.mode === 'standalone') checkToken(queries);
}

/**
 * Asks the server once whether this tab may query: a refused token (wrong, or none where one
 * is needed) brings the prompt back, and a saved one is forgotten so a reload asks again.
 */
function checkToken(queries: ProgressQueryClient): void {
  queries.query('SELECT 1').then(
    () => setTokenRefused(false),
    (error: unknown) => {
      if (!(error instanceof Unauthorized)) return;
      forgetToken(window.location.pathname, sessionStorageOrNull());
      setTokenRefused(true);
    },
  );
}

start().catch((error: unknown) => console.error('SQLRooms app failed to start', error));
