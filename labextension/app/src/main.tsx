import {createRoot} from 'react-dom/client';
import {useEffect, useState} from 'react';
import {applyTheme, initialTheme, listenToPanel, type Theme} from './bridge';
import {connectionFor} from './connection';
import {App} from './components/App';
import {createAppStore, type ConnectionStatus} from './store';
import './index.css';

const connection = connectionFor(window.location);
let setStatus: (s: ConnectionStatus) => void = () => undefined;
const store = createAppStore(connection, (s) => setStatus(s), () => undefined);
store.roomStore
  .getState()
  .room.initialize()
  .catch((error: unknown) => console.error('SQLRooms app failed to start', error));

function Root() {
  const [status, setState] = useState<ConnectionStatus>('connecting');
  const [theme, setTheme] = useState<Theme>(() =>
    initialTheme(window.location.search, window.matchMedia?.('(prefers-color-scheme: dark)').matches),
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

createRoot(document.getElementById('root')!).render(<Root />);
