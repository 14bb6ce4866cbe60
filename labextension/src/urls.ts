/**
 * Addresses of the Jupyter server extension's REST API (the framed app finds
 * the relay itself, see app/src/connection.ts).
 *
 * Pure functions of the server settings, so they can be tested without a server.
 */

/** The part of `ServerConnection.ISettings` that addresses depend on. */
export interface IServerAddress {
  /** Base URL of the Jupyter server, with a trailing slash (`http://host:8888/lab-base/`). */
  readonly baseUrl: string;
}

const API_PATH = 'sqlrooms/api/kernels';

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
