/**
 * Where the app's WebSocket goes, from the page's own address. Two doors:
 *
 * - JupyterLab: `{base_url}sqlrooms/app/?kernel=<id>` connects to the server extension's relay,
 *   `{base_url}sqlrooms/kernels/<id>/ws`; Jupyter's cookie signs it in.
 * - Standalone and kernel servers: `/app/#token=T` connects to the same origin's
 *   `/ws/duckdb?token=T`. The token sits in the fragment so that it never reaches server logs.
 *
 * `?ws=<url>` names a socket explicitly (development against another server).
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

export function connectionFor(location: LocationLike): Connection {
  const query = new URLSearchParams(location.search);
  const explicit = query.get('ws');
  const token = tokenFromHash(location.hash);
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
