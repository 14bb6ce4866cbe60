/**
 * Download a query's result as CSV or Parquet, made by the server (README "Export").
 *
 * The server answers `{"type":"export","sql":S,"format":F,"queryId":Q}` with binary messages
 * `[4-byte big-endian header length][{"type":"export","queryId":Q,"format":F}][bytes]`, then
 * `{"type":"ok","queryId":Q,"rows":N,"bytes":B}` or `{"type":"error","queryId":Q,...}`. The
 * export runs on a socket of its own, so the connector's socket never sees these frames.
 */

export type ExportFormat = 'csv' | 'parquet';

export const MEDIA_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv',
  parquet: 'application/vnd.apache.parquet'
};

export function exportMessage(
  sql: string,
  format: ExportFormat,
  queryId: string
): string {
  return JSON.stringify({ type: 'export', sql, format, queryId });
}

/** `sqlrooms-2026-12-01-1055.csv`, from the local time. */
export function exportFileName(
  format: ExportFormat,
  now: Date = new Date()
): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const day = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  return `sqlrooms-${day}-${pad(now.getHours())}${pad(now.getMinutes())}.${format}`;
}

/** Splits a framed binary message; null when it is not one. */
export function splitFrame(
  data: ArrayBuffer
): { header: Record<string, unknown>; payload: Uint8Array } | null {
  if (data.byteLength < 4) return null;
  const length = new DataView(data).getUint32(0);
  if (length === 0 || 4 + length > data.byteLength) return null;
  try {
    const header = JSON.parse(
      new TextDecoder().decode(new Uint8Array(data, 4, length))
    );
    if (typeof header !== 'object' || header === null) return null;
    return { header, payload: new Uint8Array(data, 4 + length) };
  } catch {
    return null;
  }
}

export type ExportDone = { rows: number; bytes: number };

/** Collects one export's chunks from the socket's messages, in order. */
export class ExportCollector {
  readonly parts: Uint8Array[] = [];
  received = 0;
  done: ExportDone | null = null;
  error: string | null = null;

  constructor(readonly queryId: string) {}

  /** Takes one message; true once the export has its terminal answer. */
  accept(data: string | ArrayBuffer): boolean {
    if (typeof data !== 'string') {
      const frame = splitFrame(data);
      if (
        frame?.header.type === 'export' &&
        frame.header.queryId === this.queryId
      ) {
        this.parts.push(frame.payload);
        this.received += frame.payload.byteLength;
      }
      return false;
    }
    let message: Record<string, unknown>;
    try {
      message = JSON.parse(data);
    } catch {
      return false;
    }
    if (
      message.type === 'error' &&
      (message.queryId === this.queryId || !message.queryId)
    ) {
      this.error = String(message.error);
      return true;
    }
    if (message.type === 'ok' && message.queryId === this.queryId) {
      this.done = { rows: Number(message.rows), bytes: Number(message.bytes) };
      return true;
    }
    return false;
  }

  blob(format: ExportFormat): Blob {
    return new Blob(this.parts as BlobPart[], { type: MEDIA_TYPES[format] });
  }
}

export type ExportOptions = {
  wsUrl: string;
  sql: string;
  format: ExportFormat;
  signal?: AbortSignal;
  /** Bytes received so far, after each chunk. */
  onProgress?: (bytes: number) => void;
  WebSocketImpl?: typeof WebSocket;
};

/** Runs the export on a socket of its own; resolves with the file. */
export function exportResult(
  options: ExportOptions
): Promise<{ blob: Blob } & ExportDone> {
  const { wsUrl, sql, format, signal, onProgress } = options;
  const Impl = options.WebSocketImpl ?? WebSocket;
  const queryId = `export-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const collector = new ExportCollector(queryId);
  return new Promise((resolve, reject) => {
    if (signal?.aborted)
      return reject(new DOMException('Export cancelled', 'AbortError'));
    const ws = new Impl(wsUrl);
    ws.binaryType = 'arraybuffer';
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      ws.close();
      outcome();
    };
    const onAbort = () => {
      if (ws.readyState === Impl.OPEN)
        ws.send(JSON.stringify({ type: 'cancel', queryId }));
      finish(() => reject(new DOMException('Export cancelled', 'AbortError')));
    };
    signal?.addEventListener('abort', onAbort);
    ws.onopen = () => ws.send(exportMessage(sql, format, queryId));
    ws.onmessage = (event: MessageEvent) => {
      const ended = collector.accept(event.data as string | ArrayBuffer);
      if (!ended) return onProgress?.(collector.received);
      if (collector.error !== null) {
        const error = collector.error;
        finish(() => reject(new Error(error)));
      } else {
        const done = collector.done as ExportDone;
        finish(() => resolve({ blob: collector.blob(format), ...done }));
      }
    };
    ws.onerror = () =>
      finish(() => reject(new Error('Export failed: the connection failed')));
    ws.onclose = (event: CloseEvent) => {
      if (collector.done === null && collector.error === null) {
        finish(() =>
          reject(new Error(`Export failed: connection closed (${event.code})`))
        );
      }
    };
  });
}

/** Hands a file to the browser as a download. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.style.display = 'none';
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
