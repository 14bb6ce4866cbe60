/**
 * The Jupyter server extension's REST API: which kernels run a SQLRooms
 * server, and the status of one.
 */
import { ServerConnection } from '@jupyterlab/services';
import { kernelStatusUrl, kernelsApiUrl } from './urls';

/** One entry of `GET sqlrooms/api/kernels`. */
export interface IKernelServerSummary {
  readonly kernel_id: string;
  readonly path: string | null;
  /** Epoch seconds. */
  readonly started_at: number;
  readonly sync: boolean;
  readonly connections: number;
  readonly url: string;
}

/** A query the server is running or has queued. */
export interface IServerQuery {
  readonly queryId: string;
  readonly type: string;
  readonly sql: string;
  readonly age_seconds: number;
  readonly running: boolean;
}

/** `GET sqlrooms/api/kernels/<id>`: one kernel's server. */
export interface IKernelServerStatus {
  readonly kernel_id: string;
  readonly url: string;
  readonly uptime_seconds: number | null;
  readonly database: string;
  readonly connections: number;
  readonly queries: readonly IServerQuery[];
  /** Subscriber counts by channel. */
  readonly channels: Readonly<Record<string, number>>;
  readonly sync: boolean;
  /** Names of kernel objects shared with `%sqlrooms share`, when the server reports them. */
  readonly shared?: readonly string[];
}

/** The REST API, as the panel and the status bar use it (a fake in tests). */
export interface ISqlRoomsApi {
  listKernelServers(): Promise<IKernelServerSummary[]>;
  /** The status, or `null` when the kernel runs no SQLRooms server. */
  kernelServerStatus(kernelId: string): Promise<IKernelServerStatus | null>;
}

export class SqlRoomsApiError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
    this.name = 'SqlRoomsApiError';
  }
}

/** The REST API over `ServerConnection`, which adds the token and XSRF header. */
export class SqlRoomsApi implements ISqlRoomsApi {
  constructor(
    private readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  async listKernelServers(): Promise<IKernelServerSummary[]> {
    const response = await this.get(kernelsApiUrl(this.settings));
    if (!response.ok) {
      throw await apiError(response);
    }
    return (await response.json()) as IKernelServerSummary[];
  }

  async kernelServerStatus(
    kernelId: string
  ): Promise<IKernelServerStatus | null> {
    const response = await this.get(kernelStatusUrl(this.settings, kernelId));
    if (response.status === 404) {
      return null;
    }
    if (!response.ok) {
      throw await apiError(response);
    }
    return (await response.json()) as IKernelServerStatus;
  }

  private async get(url: string): Promise<Response> {
    try {
      return await ServerConnection.makeRequest(
        url,
        { method: 'GET' },
        this.settings
      );
    } catch (error) {
      throw new ServerConnection.NetworkError(error as TypeError);
    }
  }
}

async function apiError(response: Response): Promise<SqlRoomsApiError> {
  let detail = response.statusText;
  try {
    const body = (await response.json()) as { message?: string };
    detail = body.message || detail;
  } catch {
    // not JSON: keep the status text
  }
  return new SqlRoomsApiError(
    `SQLRooms API ${response.status}: ${detail}`,
    response.status
  );
}
