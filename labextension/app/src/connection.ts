/**
 * Where the app's WebSocket goes, from the page's own address. Two doors:
 *
 * - JupyterLab: `{base_url}sqlrooms/app/?kernel=<id>` connects to the server extension's relay,
 *   `{base_url}sqlrooms/kernels/<id>/ws`; Jupyter's cookie signs it in.
 * - Standalone and kernel servers: `/app/#token=T` connects to the same origin's
 *   `/ws/duckdb?token=T`. The token sits in the fragment so that it never reaches server logs.
 *
 * `?ws=<url>` names a socket explicitly, in development builds only (`npm run dev`): a production
 * build served by Jupyter must never follow a link's `ws=` to another server with the user's
 * session (the page's CSP allows only its own origin too).
 *
 * The standalone token is read once from the fragment, kept in sessionStorage (this tab only,
 * so a reload reconnects) and removed from the address bar (see `forgetTokenInAddress`).
 */

export type LocationLike = Pick<Location, 'protocol' | 'host' | 'pathname' | 'search' | 'hash'>;

export type Connection =
  | {mode: 'kernel'; kernelId: string; wsUrl: string}
  | {mode: 'standalone'; wsUrl: string; hasToken: boolean};

const APP_PATH = /sqlrooms\/app(\/.*)?$/;
const KERNEL_ID = /^[\w-]+$/;

/** The directory the app is served from, with a trailing slash (`/user/a/sqlrooms/app/`). */
export function appDirectory(pathname: string): string {
  return pathname.endsWith('/') ? pathname : pathname.slice(0, pathname.lastIndexOf('/') + 1);
}

/** Jupyter's `base_url` seen from the app's path, or null when not served by Jupyter. */
export function jupyterBase(pathname: string): string | null {
  const match = APP_PATH.exec(pathname);
  return match ? pathname.slice(0, match.index) : null;
}

export function tokenFromHash(hash: string): string | null {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const token = params.get('token');
  return token ? token : null;
}

function wsOrigin(location: LocationLike): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}`;
}

export type ConnectionOptions = {
  /** Whether `?ws=` is followed: development builds only. */
  allowWsParam?: boolean;
  /** The token saved by an earlier load of this tab, used when the fragment has none. */
  savedToken?: string | null;
};

export function connectionFor(
  location: LocationLike,
  {allowWsParam = false, savedToken = null}: ConnectionOptions = {},
): Connection {
  const query = new URLSearchParams(location.search);
  const explicit = allowWsParam ? query.get('ws') : null;
  const token = tokenFromHash(location.hash) ?? savedToken;
  const withToken = (url: string): string => {
    if (!token) return url;
    const u = new URL(url);
    u.searchParams.set('token', token);
    return u.href;
  };
  if (explicit) {
    return {mode: 'standalone', wsUrl: withToken(explicit), hasToken: token !== null};
  }
  const kernelId = query.get('kernel');
  if (kernelId) {
    if (!KERNEL_ID.test(kernelId)) {
      throw new Error(`Not a kernel id: ${kernelId}`);
    }
    const base = jupyterBase(location.pathname) ?? '/';
    return {
      mode: 'kernel',
      kernelId,
      wsUrl: `${wsOrigin(location)}${base}sqlrooms/kernels/${kernelId}/ws`,
    };
  }
  // The app sits one level below the socket: `/app/` next to `/ws/duckdb`.
  const dir = appDirectory(location.pathname);
  const parent = dir.replace(/[^/]+\/$/, '') || '/';
  return {
    mode: 'standalone',
    wsUrl: withToken(`${wsOrigin(location)}${parent}ws/duckdb`),
    hasToken: token !== null,
  };
}

/** Where this tab keeps the standalone token across reloads (sessionStorage, per app path). */
export function tokenStorageKey(pathname: string): string {
  return `sqlrooms-app:token:${appDirectory(pathname)}`;
}

type StorageLike = Pick<Storage, 'getItem' | 'setItem'>;
type HistoryLike = Pick<History, 'replaceState' | 'state'>;

/**
 * Reads the token (fragment first, else this tab's saved one), saves it for reloads, and takes
 * `token=` out of the address bar so it is not shared, bookmarked or shoulder-surfed.
 */
export function takeToken(
  location: LocationLike,
  storage: StorageLike | null,
  history: HistoryLike,
): string | null {
  const key = tokenStorageKey(location.pathname);
  const fromHash = tokenFromHash(location.hash);
  let saved: string | null = null;
  try {
    if (fromHash) storage?.setItem(key, fromHash);
    saved = storage?.getItem(key) ?? null;
  } catch {
    // Storage refused (private mode, sandboxed frame): the token still works for this load.
  }
  if (location.hash) {
    const params = new URLSearchParams(location.hash.replace(/^#/, ''));
    if (params.has('token')) {
      params.delete('token');
      const rest = params.toString();
      history.replaceState(
        history.state,
        '',
        `${location.pathname}${location.search}${rest ? `#${rest}` : ''}`,
      );
    }
  }
  return fromHash ?? saved;
}

/** Drops this tab's saved token (the server refused it), so a reload asks again. */
export function forgetToken(pathname: string, storage: Pick<Storage, 'removeItem'> | null): void {
  try {
    storage?.removeItem(tokenStorageKey(pathname));
  } catch {
    // Storage refused: nothing was saved either.
  }
}
