import { describe, expect, it } from 'vitest';
import {
  ExportCollector,
  exportFileName,
  exportMessage,
  exportResult,
  splitFrame
} from './download';

function frame(header: object, payload: string): ArrayBuffer {
  const head = new TextEncoder().encode(JSON.stringify(header));
  const body = new TextEncoder().encode(payload);
  const out = new Uint8Array(4 + head.length + body.length);
  new DataView(out.buffer).setUint32(0, head.length);
  out.set(head, 4);
  out.set(body, 4 + head.length);
  return out.buffer;
}

const chunk = (queryId: string, text: string) =>
  frame({ type: 'export', queryId, format: 'csv' }, text);

describe('export messages', () => {
  it('builds the export message', () => {
    expect(JSON.parse(exportMessage('select 1', 'parquet', 'q1'))).toEqual({
      type: 'export',
      sql: 'select 1',
      format: 'parquet',
      queryId: 'q1'
    });
  });

  it('names the file after the local time and the format', () => {
    expect(exportFileName('csv', new Date(2026, 0, 5, 9, 7))).toBe(
      'sqlrooms-2026-01-05-0907.csv'
    );
    expect(exportFileName('parquet', new Date(2026, 11, 31, 23, 59))).toMatch(
      /-2359\.parquet$/
    );
  });

  it('splits a framed binary message and refuses garbage', () => {
    const split = splitFrame(chunk('q', 'a,b\n'));
    expect(split?.header).toEqual({
      type: 'export',
      queryId: 'q',
      format: 'csv'
    });
    expect(new TextDecoder().decode(split?.payload)).toBe('a,b\n');
    expect(splitFrame(new Uint8Array([0, 0, 0, 9, 1]).buffer)).toBeNull();
    expect(splitFrame(new Uint8Array([0, 0]).buffer)).toBeNull();
  });
});

describe('ExportCollector', () => {
  it('keeps its own chunks in order until the ok', () => {
    const c = new ExportCollector('q');
    expect(c.accept(chunk('q', '"i"\n'))).toBe(false);
    expect(c.accept(chunk('other', 'not mine\n'))).toBe(false);
    expect(c.accept('{"type":"ok","queryId":"other"}')).toBe(false);
    expect(c.accept(chunk('q', '1\n'))).toBe(false);
    expect(c.received).toBe(6);
    expect(
      c.accept('{"type":"ok","queryId":"q","format":"csv","rows":1,"bytes":6}')
    ).toBe(true);
    expect(c.done).toEqual({ rows: 1, bytes: 6 });
    return c
      .blob('csv')
      .text()
      .then(text => expect(text).toBe('"i"\n1\n'));
  });

  it('ends on its error, or on an error without a queryId (e.g. unauthorized)', () => {
    const c = new ExportCollector('q');
    expect(c.accept('{"type":"error","queryId":"x","error":"not mine"}')).toBe(
      false
    );
    expect(
      c.accept('{"type":"error","queryId":"q","error":"Catalog Error: t"}')
    ).toBe(true);
    expect(c.error).toBe('Catalog Error: t');
    const d = new ExportCollector('q');
    expect(d.accept('{"type":"error","error":"unauthorized"}')).toBe(true);
  });
});

/** A socket that answers an export with two chunks, or with an error for `fail`. */
class ScriptedSocket {
  static OPEN = 1;
  static sent: string[] = [];
  readyState = ScriptedSocket.OPEN;
  binaryType = 'blob';
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onerror: (() => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  constructor(readonly url: string) {
    setTimeout(() => this.onopen?.(), 0);
  }
  send(text: string) {
    ScriptedSocket.sent.push(text);
    const message = JSON.parse(text);
    if (message.type !== 'export') return;
    const reply = (data: unknown) =>
      setTimeout(() => this.onmessage?.({ data }), 0);
    if (message.sql === 'fail') {
      reply(
        JSON.stringify({
          type: 'error',
          queryId: message.queryId,
          error: 'Parser Error'
        })
      );
      return;
    }
    reply(chunk(message.queryId, 'x\n'));
    reply(chunk(message.queryId, '1\n'));
    reply(
      JSON.stringify({
        type: 'ok',
        queryId: message.queryId,
        rows: 1,
        bytes: 4
      })
    );
  }
  close() {
    this.readyState = 3;
  }
}

describe('exportResult', () => {
  const Impl = ScriptedSocket as unknown as typeof WebSocket;

  it('resolves with the whole file and reports progress', async () => {
    const progress: number[] = [];
    const result = await exportResult({
      wsUrl: 'ws://h/ws',
      sql: 'select 1 as x',
      format: 'csv',
      onProgress: b => progress.push(b),
      WebSocketImpl: Impl
    });
    expect(await result.blob.text()).toBe('x\n1\n');
    expect(result.blob.type).toBe('text/csv');
    expect(result.rows).toBe(1);
    expect(progress).toEqual([2, 4]);
  });

  it("rejects with the server's error", async () => {
    await expect(
      exportResult({
        wsUrl: 'ws://h/ws',
        sql: 'fail',
        format: 'csv',
        WebSocketImpl: Impl
      })
    ).rejects.toThrow('Parser Error');
  });

  it('sends a cancel when aborted', async () => {
    ScriptedSocket.sent = [];
    const abort = new AbortController();
    const pending = exportResult({
      wsUrl: 'ws://h/ws',
      sql: 'select 1',
      format: 'parquet',
      signal: abort.signal,
      WebSocketImpl: Impl
    });
    await new Promise(r => setTimeout(r, 1));
    abort.abort();
    await expect(pending).rejects.toThrow('Export cancelled');
    const sent = ScriptedSocket.sent.map(s => JSON.parse(s));
    expect(sent.map(m => m.type)).toEqual(['export', 'cancel']);
    expect(sent[1].queryId).toBe(sent[0].queryId);
  });
});
