/**
 * The app's own query path, for what the official connector cannot ask: progress. One
 * WebSocket speaking the server's protocol (docs/protocol.md): a query message with
 * `"progress": true`, `progress` frames while it runs, `cancel` to stop it, and the answer as a
 * binary frame `[4-byte BE header length][JSON header][Arrow IPC stream]`.
 */
import {Table, tableFromIPC} from 'apache-arrow';
import {decodeFrame, encodeFrame} from './wire';

export type QueryMessage = {
  type: 'arrow';
  sql: string;
  queryId: string;
  progress: true;
};

/** A text frame from the server, as far as a query cares. */
export type ServerText =
  | {type: 'progress'; queryId: string; percentage: number}
  | {type: 'error'; queryId: string | null; error: string}
  | {type: 'ok'; queryId: string}
  | {type: 'cancelAck'; queryId: string; cancelled: boolean}
  | {type: 'other'};

export type ArrowFrame = {queryId: string; ipc: Uint8Array};

export function queryMessage(sql: string, queryId: string): string {
  const message: QueryMessage = {type: 'arrow', sql, queryId, progress: true};
  return JSON.stringify(message);
}

export function cancelMessage(queryId: string): string {
  return JSON.stringify({type: 'cancel', queryId});
}

const isString = (v: unknown): v is string => typeof v === 'string';

export function parseText(text: string): ServerText {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return {type: 'other'};
  }
  if (!raw || typeof raw !== 'object') return {type: 'other'};
  const m = raw as Record<string, unknown>;
  switch (m.type) {
    case 'progress':
      return isString(m.queryId) && typeof m.percentage === 'number'
        ? {type: 'progress', queryId: m.queryId, percentage: clampPercentage(m.percentage)}
        : {type: 'other'};
    case 'error':
      return {
        type: 'error',
        queryId: isString(m.queryId) ? m.queryId : null,
        error: isString(m.error) ? m.error : 'Unknown error',
      };
    case 'ok':
      return isString(m.queryId) ? {type: 'ok', queryId: m.queryId} : {type: 'other'};
    case 'cancelAck':
      return isString(m.queryId)
        ? {type: 'cancelAck', queryId: m.queryId, cancelled: m.cancelled === true}
        : {type: 'other'};
    default:
      return {type: 'other'};
  }
}

function clampPercentage(p: number): number {
  return Number.isFinite(p) ? Math.min(100, Math.max(0, p)) : 0;
}

/** Splits an answer frame into its queryId and Arrow IPC bytes; null when it is not one. */
export function parseBinary(data: ArrayBuffer): ArrowFrame | null {
  const frame = decodeFrame(data);
  if (!frame || frame.header.type !== 'arrow' || !isString(frame.header.queryId)) return null;
  return {queryId: frame.header.queryId, ipc: frame.payload};
}

/** Builds an answer frame; the server's format, used by tests. */
export function arrowFrame(queryId: string, ipc: Uint8Array): ArrayBuffer {
  return encodeFrame({type: 'arrow', queryId}, ipc);
}

/** The server closed the socket as unauthenticated (close code 1008): no token, or a wrong one. */
export class Unauthorized extends Error {
  constructor() {
    super('The server refused the token');
    this.name = 'Unauthorized';
  }
}

const CLOSE_POLICY_VIOLATION = 1008;

export class QueryCancelled extends Error {
  constructor() {
    super('Query was cancelled');
    this.name = 'AbortError';
  }
}

type Pending = {
  resolve: (table: Table) => void;
  reject: (error: Error) => void;
  onProgress?: (percentage: number) => void;
};

export type QueryOptions = {signal?: AbortSignal; onProgress?: (percentage: number) => void};

type SocketLike = Pick<WebSocket, 'send' | 'close' | 'readyState'> & {
  binaryType: BinaryType;
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
};

const OPEN = 1; // WebSocket.OPEN, without needing the global

let sequence = 0;
function nextQueryId(): string {
  sequence += 1;
  return `app-${Date.now().toString(36)}-${sequence}`;
}

/**
 * Runs queries with progress over one lazily opened socket (reopened after a close). The
 * token, if any, is in `wsUrl`; through Jupyter the cookie signs it in.
 */
export class ProgressQueryClient {
  private socket: SocketLike | null = null;
  private opened: Promise<SocketLike> | null = null;
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly wsUrl: string,
    private readonly makeSocket: (url: string) => SocketLike = (url) => new WebSocket(url),
  ) {}

  query(sql: string, options: QueryOptions = {}): Promise<Table> {
    const {signal, onProgress} = options;
    if (signal?.aborted) return Promise.reject(new QueryCancelled());
    const queryId = nextQueryId();
    return new Promise<Table>((resolve, reject) => {
      let cancelled = false;
      const onAbort = () => {
        cancelled = true;
        if (!this.pending.has(queryId)) return;
        this.pending.delete(queryId);
        if (this.socket?.readyState === OPEN) this.socket.send(cancelMessage(queryId));
        reject(new QueryCancelled());
      };
      signal?.addEventListener('abort', onAbort, {once: true});
      const done = () => signal?.removeEventListener('abort', onAbort);
      this.pending.set(queryId, {
        resolve: (t) => (done(), resolve(t)),
        reject: (e) => (done(), reject(e)),
        onProgress,
      });
      this.open().then(
        (socket) => {
          if (!cancelled && this.pending.has(queryId)) socket.send(queryMessage(sql, queryId));
        },
        (error: Error) => {
          if (this.pending.delete(queryId)) {
            done();
            reject(error);
          }
        },
      );
    });
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
    this.opened = null;
    this.failAll(new Error('Connection closed'));
  }

  private open(): Promise<SocketLike> {
    if (this.opened) return this.opened;
    this.opened = new Promise<SocketLike>((resolve, reject) => {
      const socket = this.makeSocket(this.wsUrl);
      socket.binaryType = 'arraybuffer';
      socket.onopen = () => resolve(socket);
      socket.onerror = () => reject(new Error(`Cannot connect to ${redacted(this.wsUrl)}`));
      socket.onmessage = (event) => this.receive(event.data);
      socket.onclose = (event) => {
        if (this.socket === socket) {
          this.socket = null;
          this.opened = null;
        }
        const error =
          event?.code === CLOSE_POLICY_VIOLATION
            ? new Unauthorized()
            : new Error('Connection closed');
        reject(error);
        this.failAll(error);
      };
      this.socket = socket;
    });
    return this.opened;
  }

  /** A frame from the server (exposed for tests). */
  receive(data: unknown): void {
    if (data instanceof ArrayBuffer) {
      const frame = parseBinary(data);
      const waiting = frame && this.pending.get(frame.queryId);
      if (!frame || !waiting) return;
      this.pending.delete(frame.queryId);
      try {
        waiting.resolve(tableFromIPC(frame.ipc));
      } catch (error) {
        waiting.reject(error instanceof Error ? error : new Error(String(error)));
      }
      return;
    }
    if (typeof data !== 'string') return;
    const message = parseText(data);
    if (message.type === 'other' || message.type === 'cancelAck' || !message.queryId) return;
    const waiting = this.pending.get(message.queryId);
    if (!waiting) return;
    if (message.type === 'progress') {
      waiting.onProgress?.(message.percentage);
    } else if (message.type === 'error') {
      this.pending.delete(message.queryId);
      waiting.reject(
        message.error === 'unauthorized' ? new Unauthorized() : new Error(message.error),
      );
    } else {
      // `ok`: a statement without a result set; an empty table stands for it.
      this.pending.delete(message.queryId);
      waiting.resolve(new Table());
    }
  }

  private failAll(error: Error): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const w of waiting) w.reject(error);
  }
}

function redacted(url: string): string {
  return url.replace(/([?&]token=)[^&]*/, '$1…');
}
