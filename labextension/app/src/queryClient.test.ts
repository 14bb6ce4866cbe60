import {tableFromArrays, tableToIPC} from 'apache-arrow';
import {describe, expect, it} from 'vitest';
import {
  arrowFrame,
  cancelMessage,
  parseBinary,
  parseText,
  ProgressQueryClient,
  queryMessage,
} from './queryClient';

describe('messages', () => {
  it('asks for progress on the query message', () => {
    expect(JSON.parse(queryMessage('select 1', 'q1'))).toEqual({
      type: 'arrow',
      sql: 'select 1',
      queryId: 'q1',
      progress: true,
    });
    expect(JSON.parse(cancelMessage('q1'))).toEqual({type: 'cancel', queryId: 'q1'});
  });

  it('parses progress, errors, ok and cancel acks', () => {
    expect(parseText('{"type":"progress","queryId":"q","percentage":42.5}')).toEqual({
      type: 'progress',
      queryId: 'q',
      percentage: 42.5,
    });
    expect(parseText('{"type":"progress","queryId":"q","percentage":140}')).toMatchObject({
      percentage: 100,
    });
    expect(parseText('{"type":"error","queryId":"q","error":"boom"}')).toEqual({
      type: 'error',
      queryId: 'q',
      error: 'boom',
    });
    expect(parseText('{"type":"error","error":"no id"}')).toMatchObject({queryId: null});
    expect(parseText('{"type":"ok","queryId":"q"}')).toEqual({type: 'ok', queryId: 'q'});
    expect(parseText('{"type":"cancelAck","queryId":"q","cancelled":true}')).toEqual({
      type: 'cancelAck',
      queryId: 'q',
      cancelled: true,
    });
    expect(parseText('{"type":"notify","channel":"c"}')).toEqual({type: 'other'});
    expect(parseText('{"type":"progress","queryId":"q"}')).toEqual({type: 'other'});
    expect(parseText('not json')).toEqual({type: 'other'});
    expect(parseText('[1]')).toEqual({type: 'other'});
  });

  it('splits a binary answer into its header and Arrow stream', () => {
    const ipc = tableToIPC(tableFromArrays({x: Int32Array.from([1, 2, 3])}), 'stream');
    const frame = parseBinary(arrowFrame('q7', ipc));
    expect(frame?.queryId).toBe('q7');
    expect([...(frame?.ipc ?? [])]).toEqual([...ipc]);
  });

  it('refuses frames that are not answers', () => {
    expect(parseBinary(new ArrayBuffer(2))).toBeNull();
    const tooLong = new Uint8Array(8);
    new DataView(tooLong.buffer).setUint32(0, 100, false);
    expect(parseBinary(tooLong.buffer)).toBeNull();
    const header = new TextEncoder().encode('{"type":"uploadAck","queryId":"q"}');
    const other = new Uint8Array(4 + header.length);
    new DataView(other.buffer).setUint32(0, header.length, false);
    other.set(header, 4);
    expect(parseBinary(other.buffer)).toBeNull();
  });
});

/** A socket that records what is sent and opens at once. */
class FakeSocket {
  sent: string[] = [];
  readyState = 1;
  binaryType: BinaryType = 'blob';
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  constructor() {
    queueMicrotask(() => this.onopen?.(new Event('open')));
  }
  send(data: string) {
    this.sent.push(data);
  }
  close() {
    this.readyState = 3;
  }
}

async function sentQuery(socket: FakeSocket): Promise<{queryId: string; sql: string}> {
  for (let i = 0; i < 20 && socket.sent.length === 0; i++) await Promise.resolve();
  return JSON.parse(socket.sent[0]) as {queryId: string; sql: string};
}

describe('ProgressQueryClient', () => {
  it('reports progress, then resolves with the Arrow table', async () => {
    const socket = new FakeSocket();
    const client = new ProgressQueryClient('ws://x/', () => socket);
    const seen: number[] = [];
    const result = client.query('select 1 as x', {onProgress: (p) => seen.push(p)});
    const {queryId, sql} = await sentQuery(socket);
    expect(sql).toBe('select 1 as x');
    client.receive(JSON.stringify({type: 'progress', queryId, percentage: 10}));
    client.receive(JSON.stringify({type: 'progress', queryId: 'someone-else', percentage: 99}));
    client.receive(JSON.stringify({type: 'progress', queryId, percentage: 60}));
    const ipc = tableToIPC(tableFromArrays({x: Int32Array.from([1])}), 'stream');
    client.receive(arrowFrame(queryId, ipc));
    const table = await result;
    expect(seen).toEqual([10, 60]);
    expect(table.getChild('x')?.get(0)).toBe(1);
    expect(socket.binaryType).toBe('arraybuffer');
  });

  it('sends cancel on abort and rejects as cancelled', async () => {
    const socket = new FakeSocket();
    const client = new ProgressQueryClient('ws://x/', () => socket);
    const abort = new AbortController();
    const result = client.query('select slow', {signal: abort.signal});
    const {queryId} = await sentQuery(socket);
    abort.abort();
    await expect(result).rejects.toMatchObject({name: 'AbortError'});
    expect(JSON.parse(socket.sent[1])).toEqual({type: 'cancel', queryId});
    // The server's late error for the cancelled query is ignored.
    client.receive(JSON.stringify({type: 'error', queryId, error: 'Query was cancelled'}));
  });

  it('rejects with the server error, and fails pending queries when the socket closes', async () => {
    const socket = new FakeSocket();
    const client = new ProgressQueryClient('ws://x/', () => socket);
    const failing = client.query('select nope');
    const {queryId} = await sentQuery(socket);
    client.receive(JSON.stringify({type: 'error', queryId, error: 'Binder Error: nope'}));
    await expect(failing).rejects.toThrow('Binder Error: nope');
    const waiting = client.query('select 2');
    await Promise.resolve();
    socket.onclose?.(new Event('close') as CloseEvent);
    await expect(waiting).rejects.toThrow('Connection closed');
  });
});
