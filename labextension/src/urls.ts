/**
 * Addresses of the Jupyter server extension's REST API and WebSocket relay.
 *
 * Pure functions of the server settings, so they can be tested without a server.
 */

/** The parts of `ServerConnection.ISettings` that addresses depend on. */
export interface IServerAddress {
  /** Base URL of the Jupyter server, with a trailing slash (`http://host:8888/lab-base/`). */
  readonly baseUrl: string;
  /** WebSocket base URL of the Jupyter server (`ws://host:8888/lab-base/`). */
  readonly wsUrl: string;
  /** The Jupyter token, or an empty string when the browser authenticates with a cookie. */
  readonly token: string;
}

const API_PATH = 'sqlrooms/api/kernels';
const WEBSOCKET_PATH = 'sqlrooms/kernels';

function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

/** `GET` lists the running kernels that have a SQLRooms server. */
export function kernelsApiUrl(
  address: Pick<IServerAddress, 'baseUrl'>
): string {
  return `${withTrailingSlash(address.baseUrl)}${API_PATH}`;
}

/** `GET` gives one kernel's server status; 404 when that kernel has none. */
export function kernelStatusUrl(
  address: Pick<IServerAddress, 'baseUrl'>,
  kernelId: string
): string {
  return `${kernelsApiUrl(address)}/${encodeURIComponent(kernelId)}`;
}

/**
 * The WebSocket that speaks the SQLRooms protocol with one kernel's server.
 *
 * Browsers cannot set headers on a WebSocket, so the Jupyter token (when there
 * is one) goes in the query string, as JupyterLab does for kernel sockets.
 */
export function kernelWebSocketUrl(
  address: IServerAddress,
  kernelId: string
): string {
  const url = `${withTrailingSlash(address.wsUrl)}${WEBSOCKET_PATH}/${encodeURIComponent(kernelId)}/ws`;
  return address.token
    ? `${url}?token=${encodeURIComponent(address.token)}`
    : url;
}
