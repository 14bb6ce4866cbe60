/**
 * Query tabs in a Loro document, synced through the server's CRDT rooms by `@sqlrooms/crdt`.
 *
 * The document holds a map `tabs`: tab id → {title, sql (a LoroText, so that two people typing
 * in one tab merge by character), order}. Charts, the selected tab and the history stay local.
 * Loaded only when the server has `--sync` (see collab.ts): Loro's WebAssembly is 3 MB.
 */
// The connector's own module: it imports only loro-crdt (the index pulls in the whole slice,
// with bundler-style imports that vitest's Node cannot resolve).
import {createWebSocketSyncConnector} from '@sqlrooms/crdt/dist/sync/webSocketSyncConnector.js';
import {LoroDoc, LoroMap, LoroText} from 'loro-crdt';
import type {QueryTab} from './workspace';

export type SharedTab = Pick<QueryTab, 'id' | 'title' | 'sql'>;

const TABS = 'tabs';

/** The document's tabs, in their shared order (ties broken by id). */
export function readTabs(doc: LoroDoc): SharedTab[] {
  const map = doc.getMap(TABS);
  const tabs: (SharedTab & {order: number})[] = [];
  for (const id of map.keys()) {
    const entry = map.get(id);
    if (!(entry instanceof LoroMap)) continue;
    const sql = entry.get('sql');
    const title = entry.get('title');
    const order = entry.get('order');
    tabs.push({
      id,
      title: typeof title === 'string' ? title : id,
      sql: sql instanceof LoroText ? sql.toString() : '',
      order: typeof order === 'number' ? order : 0,
    });
  }
  tabs.sort((a, b) => a.order - b.order || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return tabs.map(({id, title, sql}) => ({id, title, sql}));
}

/** Brings the document to `tabs` with the fewest changes; commits and returns true if any. */
export function writeTabs(doc: LoroDoc, tabs: SharedTab[]): boolean {
  const map = doc.getMap(TABS);
  let changed = false;
  tabs.forEach((tab, order) => {
    let entry = map.get(tab.id);
    if (!(entry instanceof LoroMap)) {
      entry = map.setContainer(tab.id, new LoroMap());
      changed = true;
    }
    const fields = entry as LoroMap;
    if (fields.get('title') !== tab.title) {
      fields.set('title', tab.title);
      changed = true;
    }
    if (fields.get('order') !== order) {
      fields.set('order', order);
      changed = true;
    }
    let sql = fields.get('sql');
    if (!(sql instanceof LoroText)) {
      sql = fields.setContainer('sql', new LoroText());
      changed = true;
    }
    const text = sql as LoroText;
    if (text.toString() !== tab.sql) {
      text.update(tab.sql);
      changed = true;
    }
  });
  const keep = new Set(tabs.map((t) => t.id));
  for (const id of map.keys()) {
    if (!keep.has(id)) {
      map.delete(id);
      changed = true;
    }
  }
  if (changed) doc.commit();
  return changed;
}

/** Local tabs updated to the shared ones; local charts are kept for tabs that stay. */
export function mergeShared(local: QueryTab[], shared: SharedTab[]): QueryTab[] {
  const charts = new Map(local.map((t) => [t.id, t.charts]));
  return shared.map((t) => ({...t, charts: charts.get(t.id) ?? []}));
}

export type CollabSession = {stop: () => void};

export type CollabOptions = {
  wsUrl: string;
  roomId: string;
  /** The local tabs now. */
  tabs: () => QueryTab[];
  /** Calls `listener` after every local change of the tabs; returns an unsubscribe. */
  onLocalChange: (listener: () => void) => () => void;
  /** Replaces the local tabs with the shared ones. */
  applyShared: (shared: SharedTab[]) => void;
  onStatus?: (status: string) => void;
};

/**
 * Joins the room; once its snapshot is in, adopts the room's tabs (or seeds an empty room with
 * the local ones), then keeps both sides in step.
 */
export function startCollab(options: CollabOptions): CollabSession {
  const doc = new LoroDoc();
  let stopped = false;
  let applying = false;
  let unsubscribeLocal: (() => void) | undefined;
  let unsubscribeDoc: (() => void) | undefined;

  const pushLocal = () => {
    if (!applying) writeTabs(doc, options.tabs());
  };
  const pullShared = () => {
    applying = true;
    try {
      options.applyShared(readTabs(doc));
    } finally {
      applying = false;
    }
  };
  const begin = () => {
    if (stopped || unsubscribeLocal) return;
    if (readTabs(doc).length > 0) pullShared();
    else pushLocal();
    unsubscribeLocal = options.onLocalChange(pushLocal);
    unsubscribeDoc = doc.subscribe((event) => {
      if (event.by !== 'local') pullShared();
    });
  };

  const connector = createWebSocketSyncConnector({
    url: options.wsUrl,
    roomId: options.roomId,
    sendSnapshotOnConnect: false,
    onStatus: options.onStatus,
    // The connector gives no signal when the room's snapshot is in: watch for it, and begin
    // right after the connector has imported it.
    createSocket: (url, protocols) => {
      const socket = new WebSocket(url, protocols);
      socket.addEventListener('message', (event: MessageEvent) => {
        if (typeof event.data === 'string' && event.data.includes('"crdt-snapshot"')) {
          setTimeout(begin, 0);
        }
      });
      return socket;
    },
  });
  connector.connect(doc).catch((error: unknown) => console.warn('[collab] connect failed', error));

  return {
    stop: () => {
      stopped = true;
      unsubscribeLocal?.();
      unsubscribeDoc?.();
      connector.disconnect?.().catch(() => undefined);
    },
  };
}
