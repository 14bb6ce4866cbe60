import {describe, expect, it} from 'vitest';
import {ExportCollector, exportFileName, exportMessage, exportResult, queryTable} from './download';
import {encodeFrame} from './wire';

function frame(header: Record<string, unknown>, payload: string): ArrayBuffer {
  return encodeFrame(header, new TextEncoder().encode(payload));
}

const chunk = (queryId: string, text: string) =>
  frame({type: 'export', queryId, format: 'csv'}, text);

describe('export messages', () => {
  it('builds the export message', () => {
    expect(JSON.parse(exportMessage('select 1', 'parquet', 'q1'))).toEqual({
      type: 'export',
      sql: 'select 1',
      format: 'parquet',
      queryId: 'q1',
    });
  });

  it('names the file after the query table and the local date', () => {
    const day = new Date(2026, 11, 7, 9, 7);
    expect(exportFileName('csv', 'FROM "trips"', day)).toBe('trips-2026-12-07.csv');
    expect(exportFileName('parquet', 'select fare from main.trips where fare > 1', day)).toBe(
      'trips-2026-12-07.parquet',
    );
    expect(exportFileName('csv', 'select 1', new Date(2026, 0, 5))).toBe('query-2026-01-05.csv');
    expect(exportFileName('csv', 'from "a/../b c"', day)).toBe('a_b_c-2026-12-07.csv');
  });

  it('finds the table a query reads by name, and only then', () => {
    expect(queryTable('-- note\nSELECT *\nFROM "my ""t"""\nLIMIT 5')).toBe('my "t"');
    expect(queryTable('select * from s.t as x where y')).toBe('t');
    expect(queryTable("select * from read_parquet('x.parquet')")).toBeNull();
    expect(queryTable('select * from a join b using (id)')).toBeNull();
    expect(queryTable('select * from (select 1)')).toBeNull();
    expect(queryTable('select 42')).toBeNull();
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
    expect(c.accept('{"type":"ok","queryId":"q","format":"csv","rows":1,"bytes":6}')).toBe(true);
    expect(c.done).toEqual({rows: 1, bytes: 6});
    return c
      .blob('csv')
      .text()
      .then((text) => expect(text).toBe('"i"\n1\n'));
  });

  it('ends on its error, or on an error without a queryId (e.g. unauthorized)', () => {
    const c = new ExportCollector('q');
    expect(c.accept('{"type":"error","queryId":"x","error":"not mine"}')).toBe(false);
    expect(c.accept('{"type":"error","queryId":"q","error":"Catalog Error: t"}')).toBe(true);
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
  onmessage: ((e: {data: unknown}) => void) | null = null;
  onerror: (() => void) | null = null;
  onclose: ((e: {code: number}) => void) | null = null;
  constructor(readonly url: string) {
    setTimeout(() => this.onopen?.(), 0);
  }
  send(text: string) {
    ScriptedSocket.sent.push(text);
    const message = JSON.parse(text);
    if (message.type !== 'export') return;
    const reply = (data: unknown) => setTimeout(() => this.onmessage?.({data}), 0);
    if (message.sql === 'fail') {
      reply(
        JSON.stringify({
          type: 'error',
          queryId: message.queryId,
          error: 'Parser Error',
        }),
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
        bytes: 4,
      }),
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
      onProgress: (b) => progress.push(b),
      WebSocketImpl: Impl,
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
        WebSocketImpl: Impl,
      }),
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
      WebSocketImpl: Impl,
    });
    await new Promise((r) => setTimeout(r, 1));
    abort.abort();
    await expect(pending).rejects.toThrow('Export cancelled');
    const sent = ScriptedSocket.sent.map((s) => JSON.parse(s));
    expect(sent.map((m) => m.type)).toEqual(['export', 'cancel']);
    expect(sent[1].queryId).toBe(sent[0].queryId);
  });
});
