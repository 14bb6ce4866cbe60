/**
 * SqlRoomsClient with the real official connector, over a scripted WebSocket.
 */
import { tableFromArrays, tableToIPC } from 'apache-arrow';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ITableChange } from '../notifications';
import { SqlRoomsClient } from '../sqlroomsClient';

type Frame = Record<string, unknown>;

/** Just enough of a browser WebSocket for the connector; frames are scripted by the test. */
class ScriptedSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 3;
  static opened: ScriptedSocket[] = [];

  readyState = ScriptedSocket.CONNECTING;
  binaryType = 'blob';
  readonly sent: Frame[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onerror: (() => void) | null = null;
  onclose: (() => void) | null = null;

  constructor(readonly url: string) {
    ScriptedSocket.opened.push(this);
    setTimeout(() => {
      this.readyState = ScriptedSocket.OPEN;
      this.onopen?.();
    }, 0);
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data) as Frame);
  }

  close(): void {
    this.readyState = ScriptedSocket.CLOSED;
    this.onclose?.();
  }

  receive(frame: Frame): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  /** `[4-byte big-endian header length][header JSON][Arrow IPC stream]`. */
  receiveArrow(queryId: string, ipc: Uint8Array): void {
    const header = new TextEncoder().encode(
      JSON.stringify({ type: 'arrow', queryId })
    );
    const frame = new Uint8Array(4 + header.length + ipc.length);
    new DataView(frame.buffer).setUint32(0, header.length, false);
    frame.set(header, 4);
    frame.set(ipc, 4 + header.length);
    this.onmessage?.({ data: frame.buffer });
  }

  get isOpen(): boolean {
    return this.readyState === ScriptedSocket.OPEN;
  }

  lastSent(type: string): Frame {
    const frame = [...this.sent].reverse().find(f => f.type === type);
    if (!frame) {
      throw new Error(
        `no ${type} frame sent; sent ${JSON.stringify(this.sent)}`
      );
    }
    return frame;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

const URL = 'ws://lab/sqlrooms/kernels/k1/ws?token=t';

describe('SqlRoomsClient', () => {
  let client: SqlRoomsClient;
  let changes: ITableChange[];

  beforeEach(() => {
    ScriptedSocket.opened = [];
    vi.stubGlobal('WebSocket', ScriptedSocket);
    client = new SqlRoomsClient(URL);
    changes = [];
    client.tableChanged.connect((_sender, change) => changes.push(change));
  });

  afterEach(() => {
    client.dispose();
    vi.unstubAllGlobals();
  });

  async function answeredQuery(sql: string): Promise<ScriptedSocket> {
    const result = client.query(sql);
    await settle();
    const socket = ScriptedSocket.opened.at(-1)!;
    const sent = socket.lastSent('arrow');
    expect(sent.sql).toBe(sql);
    socket.receiveArrow(
      sent.queryId as string,
      tableToIPC(tableFromArrays({ n: Int32Array.from([7]) }), 'stream')
    );
    const table = await result;
    expect(table.getChild('n')!.get(0)).toBe(7);
    return socket;
  }

  it('queries over one socket to the relay URL and decodes Arrow', async () => {
    const socket = await answeredQuery('select 7 as n');
    expect(socket.url).toBe(URL);
    expect(ScriptedSocket.opened).toHaveLength(1);
  });

  it('rejects with the server error message', async () => {
    const result = client.query('select * from nope');
    await settle();
    const socket = ScriptedSocket.opened[0];
    socket.receive({
      type: 'error',
      queryId: socket.lastSent('arrow').queryId,
      error: 'Catalog Error: Table with name nope does not exist!'
    });
    await expect(result).rejects.toThrow(/Catalog Error/);
  });

  it('sends a cancel frame for the query when the signal aborts', async () => {
    const abort = new AbortController();
    const result = client.query('select 1', abort.signal);
    await settle();
    const socket = ScriptedSocket.opened[0];
    const queryId = socket.lastSent('arrow').queryId;
    abort.abort();
    await expect(result).rejects.toMatchObject({ name: 'AbortError' });
    expect(socket.lastSent('cancel')).toEqual({ type: 'cancel', queryId });
  });

  it('subscribes to the watched tables on a new socket', async () => {
    const first = await answeredQuery('select 7 as n');
    client.watchTables(['trips', 'events', 'trips']);
    await settle();
    expect(first.isOpen).toBe(false);
    const second = ScriptedSocket.opened.at(-1)!;
    expect(second).not.toBe(first);
    expect(second.sent).toEqual([
      { type: 'subscribe', channel: 'table:events' },
      { type: 'subscribe', channel: 'table:trips' }
    ]);
    client.watchTables(['events', 'trips']);
    await settle();
    expect(ScriptedSocket.opened.at(-1)).toBe(second);
  });

  it('waits for queries in flight before swapping sockets', async () => {
    const result = client.query('select 7 as n');
    await settle();
    const first = ScriptedSocket.opened[0];
    client.watchTables(['trips']);
    await settle();
    expect(first.isOpen).toBe(true);
    expect(ScriptedSocket.opened).toHaveLength(1);

    first.receiveArrow(
      first.lastSent('arrow').queryId as string,
      tableToIPC(tableFromArrays({ n: Int32Array.from([7]) }), 'stream')
    );
    await result;
    await settle();
    expect(first.isOpen).toBe(false);
    expect(ScriptedSocket.opened.at(-1)!.sent).toEqual([
      { type: 'subscribe', channel: 'table:trips' }
    ]);
  });

  it('reports table changes from the current socket only', async () => {
    client.watchTables(['trips']);
    await settle();
    const socket = ScriptedSocket.opened.at(-1)!;
    socket.receive({
      type: 'notify',
      channel: 'table:trips',
      payload: { op: 'replace' }
    });
    socket.receive({ type: 'notify', channel: 'table:trips', payload: 'junk' });
    expect(changes).toEqual([{ op: 'replace' }]);

    client.watchTables(['zones']);
    await settle();
    socket.receive({
      type: 'notify',
      channel: 'table:trips',
      payload: { op: 'drop' }
    });
    expect(changes).toEqual([{ op: 'replace' }]);
  });

  it('closes its socket when disposed', async () => {
    const socket = await answeredQuery('select 7 as n');
    client.dispose();
    expect(socket.isOpen).toBe(false);
    await expect(client.query('select 1')).rejects.toThrow(/closed/);
  });
});
