import {LoroDoc} from 'loro-crdt';
import {describe, expect, it} from 'vitest';
import {probeSync, withSharedTabs} from './collab';
import {mergeShared, readTabs, writeTabs} from './collabDoc';
import {defaultWorkspace, type QueryTab} from './workspace';

const tab = (id: string, sql: string, title = id): QueryTab => ({
  id,
  title,
  sql,
  charts: [],
});

/** Two documents that exchange their updates, as the server's room does. */
function pair(): [LoroDoc, LoroDoc] {
  const a = new LoroDoc();
  const b = new LoroDoc();
  a.subscribeLocalUpdates((u) => b.import(u));
  b.subscribeLocalUpdates((u) => a.import(u));
  return [a, b];
}

describe('tabs in a Loro document', () => {
  it('writes, reads back in order, and changes nothing when nothing changed', () => {
    const doc = new LoroDoc();
    expect(writeTabs(doc, [tab('t1', 'select 1'), tab('t2', 'select 2', 'Two')])).toBe(true);
    expect(readTabs(doc)).toEqual([
      {id: 't1', title: 't1', sql: 'select 1'},
      {id: 't2', title: 'Two', sql: 'select 2'},
    ]);
    expect(writeTabs(doc, [tab('t1', 'select 1'), tab('t2', 'select 2', 'Two')])).toBe(false);
    writeTabs(doc, [tab('t2', 'select 2', 'Two')]);
    expect(readTabs(doc).map((t) => t.id)).toEqual(['t2']);
  });

  it('merges two people typing in one tab by character', () => {
    const [a, b] = pair();
    writeTabs(a, [tab('t1', 'select 1 from x')]);
    expect(readTabs(b)[0].sql).toBe('select 1 from x');
    const offline = new LoroDoc();
    offline.import(a.export({mode: 'snapshot'}));
    writeTabs(a, [tab('t1', 'select 1, 2 from x')]);
    writeTabs(offline, [tab('t1', 'select 1 from x where y')]);
    b.import(offline.export({mode: 'update'}));
    a.import(offline.export({mode: 'update'}));
    expect(readTabs(a)[0].sql).toBe('select 1, 2 from x where y');
    expect(readTabs(b)).toEqual(readTabs(a));
  });

  it('keeps local charts for the tabs that stay', () => {
    const chart = {id: 'c', kind: 'bar' as const, x: 'a'};
    const local = [{...tab('t1', 'a'), charts: [chart]}, tab('t2', 'b')];
    expect(
      mergeShared(local, [
        {id: 't1', title: 'One', sql: 'a2'},
        {id: 't3', title: 'T', sql: ''},
      ]),
    ).toEqual([{id: 't1', title: 'One', sql: 'a2', charts: [chart]}, tab('t3', '', 'T')]);
  });
});

describe('withSharedTabs', () => {
  it('keeps the selection when the tab is still there, else selects the first', () => {
    const ws = defaultWorkspace();
    const kept = withSharedTabs(ws, [tab('other', ''), ws.tabs[0]]);
    expect(kept.selectedTabId).toBe(ws.tabs[0].id);
    const moved = withSharedTabs(ws, [tab('other', '')]);
    expect(moved.selectedTabId).toBe('other');
    expect(withSharedTabs(ws, [])).toBe(ws);
  });
});

/** A socket that answers a crdt-join with `answer`. */
function socketAnswering(answer: object | null) {
  return class {
    onopen: (() => void) | null = null;
    onmessage: ((e: {data: unknown}) => void) | null = null;
    onerror: (() => void) | null = null;
    onclose: (() => void) | null = null;
    constructor() {
      setTimeout(() => this.onopen?.(), 0);
    }
    send() {
      if (answer) setTimeout(() => this.onmessage?.({data: JSON.stringify(answer)}), 0);
      else setTimeout(() => this.onclose?.(), 0);
    }
    close() {}
  } as unknown as typeof WebSocket;
}

describe('probeSync', () => {
  it('is true when the server joins the room, false when it refuses or closes', async () => {
    const joined = socketAnswering({type: 'crdt-joined', roomId: 'r'});
    const refused = socketAnswering({
      type: 'error',
      error: 'CRDT sync is disabled',
    });
    expect(await probeSync('ws://h/', 'r', joined)).toBe(true);
    expect(await probeSync('ws://h/', 'r', refused)).toBe(false);
    expect(await probeSync('ws://h/', 'r', socketAnswering(null))).toBe(false);
  });
});
