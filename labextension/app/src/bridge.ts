/**
 * postMessage between the app and the JupyterLab panel that frames it. Only same-origin
 * messages from the parent window count; the app works unframed too (then nothing arrives).
 */

export type Theme = 'light' | 'dark';

/** Panel → app. `state` answers `ready`: the workspace saved in the notebook's metadata (null
 * when there is none), and whether there is a notebook to save it in (`persistent`). */
export type PanelMessage =
  | {source: 'sqlrooms-jupyter'; type: 'theme'; theme: Theme}
  | {source: 'sqlrooms-jupyter'; type: 'state'; state: unknown; persistent: boolean};

/** App → panel. */
export type AppMessage =
  | {source: 'sqlrooms-app'; type: 'ready'}
  | {source: 'sqlrooms-app'; type: 'insert-cell'; code: string}
  | {source: 'sqlrooms-app'; type: 'state-changed'; state: unknown};

export function parsePanelMessage(data: unknown): PanelMessage | null {
  if (!data || typeof data !== 'object') return null;
  const m = data as Record<string, unknown>;
  if (m.source !== 'sqlrooms-jupyter') return null;
  if (m.type === 'theme' && (m.theme === 'light' || m.theme === 'dark')) {
    return {source: 'sqlrooms-jupyter', type: 'theme', theme: m.theme};
  }
  if (m.type === 'state') {
    return {
      source: 'sqlrooms-jupyter',
      type: 'state',
      state: m.state ?? null,
      persistent: m.persistent === true,
    };
  }
  return null;
}

export function isFramed(): boolean {
  return window.parent !== window;
}

export function postToPanel(message: AppMessage): void {
  if (isFramed()) window.parent.postMessage(message, window.location.origin);
}

export function listenToPanel(onMessage: (m: PanelMessage) => void): () => void {
  const listener = (event: MessageEvent) => {
    if (event.source !== window.parent || event.origin !== window.location.origin) return;
    const message = parsePanelMessage(event.data);
    if (message) onMessage(message);
  };
  window.addEventListener('message', listener);
  return () => window.removeEventListener('message', listener);
}

/** The theme to start with: `?theme=` (set by the panel), else the system preference. */
export function initialTheme(search: string, prefersDark: boolean): Theme {
  const asked = new URLSearchParams(search).get('theme');
  if (asked === 'light' || asked === 'dark') return asked;
  return prefersDark ? 'dark' : 'light';
}

export function applyTheme(theme: Theme): void {
  document.documentElement.classList.toggle('dark', theme === 'dark');
  document.documentElement.style.colorScheme = theme;
}

export type PanelState = {state: unknown; persistent: boolean};

/**
 * Says `ready` to the panel and waits for its saved state; null when unframed or when no answer
 * comes in time (an older panel).
 */
export function requestPanelState(timeoutMs: number): Promise<PanelState | null> {
  if (!isFramed()) return Promise.resolve(null);
  return new Promise((resolve) => {
    const stop = listenToPanel((m) => {
      if (m.type !== 'state') return;
      window.clearTimeout(timer);
      stop();
      resolve({state: m.state, persistent: m.persistent});
    });
    const timer = window.setTimeout(() => {
      stop();
      resolve(null);
    }, timeoutMs);
    postToPanel({source: 'sqlrooms-app', type: 'ready'});
  });
}
