/**
 * Download a query's result as CSV or Parquet, made by the server (docs/protocol.md).
 *
 * The server answers `{"type":"export","sql":S,"format":F,"queryId":Q}` with binary messages
 * `[4-byte big-endian header length][{"type":"export","queryId":Q,"format":F}][bytes]`, then
 * `{"type":"ok","queryId":Q,"rows":N,"bytes":B}` or `{"type":"error","queryId":Q,...}`. The
 * export runs on a socket of its own, so the connector's socket never sees these frames.
 */

import {decodeFrame} from './wire';

export type ExportFormat = 'csv' | 'parquet';

export const MEDIA_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv',
  parquet: 'application/vnd.apache.parquet',
};

export function exportMessage(sql: string, format: ExportFormat, queryId: string): string {
  return JSON.stringify({type: 'export', sql, format, queryId});
}

const IDENTIFIER = String.raw`(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)`;
const FROM_TABLE = new RegExp(
  String.raw`^\s*(?:select\b[\s\S]*?\bfrom|from)\s+(${IDENTIFIER}(?:\s*\.\s*${IDENTIFIER})*)\s*(?![.(\w])`,
  'i',
);

/**
 * The table a query reads, when it reads one by name (`FROM trips`, `select … from
 * main."trips" where …`): the last part of the name, unquoted. Null for a join, a subquery, a
 * table function or anything else.
 */
export function queryTable(sql: string): string | null {
  const text = sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ');
  if (/\bjoin\b/i.test(text)) return null;
  const match = FROM_TABLE.exec(text);
  if (!match) return null;
  const parts = match[1].split(/\s*\.\s*(?=(?:"|[A-Za-z_]))/);
  const last = parts[parts.length - 1];
  const name = last.startsWith('"') ? last.slice(1, -1).replace(/""/g, '"') : last;
  return name || null;
}

/** A file name's safe form of `name`: letters, digits, `-` and `_`. */
function safe(name: string): string {
  return name
    .replace(/[^\w-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 80);
}

/** `trips-2026-12-07.csv`, from the query's table where known (else `query-…`), local date. */
export function exportFileName(format: ExportFormat, sql = '', now: Date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const day = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
  const table = queryTable(sql);
  return `${(table && safe(table)) || 'query'}-${day}.${format}`;
}

export type ExportDone = {rows: number; bytes: number};

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
      const frame = decodeFrame(data);
      if (frame?.header.type === 'export' && frame.header.queryId === this.queryId) {
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
    if (message.type === 'error' && (message.queryId === this.queryId || !message.queryId)) {
      this.error = String(message.error);
      return true;
    }
    if (message.type === 'ok' && message.queryId === this.queryId) {
      this.done = {rows: Number(message.rows), bytes: Number(message.bytes)};
      return true;
    }
    return false;
  }

  blob(format: ExportFormat): Blob {
    return new Blob(this.parts as BlobPart[], {type: MEDIA_TYPES[format]});
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
export function exportResult(options: ExportOptions): Promise<{blob: Blob} & ExportDone> {
  const {wsUrl, sql, format, signal, onProgress} = options;
  const Impl = options.WebSocketImpl ?? WebSocket;
  const queryId = `export-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const collector = new ExportCollector(queryId);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DOMException('Export cancelled', 'AbortError'));
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
      if (ws.readyState === Impl.OPEN) ws.send(JSON.stringify({type: 'cancel', queryId}));
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
        finish(() => resolve({blob: collector.blob(format), ...done}));
      }
    };
    ws.onerror = () => finish(() => reject(new Error('Export failed: the connection failed')));
    ws.onclose = (event: CloseEvent) => {
      if (collector.done === null && collector.error === null) {
        finish(() => reject(new Error(`Export failed: connection closed (${event.code})`)));
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
