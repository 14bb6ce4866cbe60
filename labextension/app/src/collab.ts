/**
 * Collaboration: with `--sync`, everyone on the same server sees each other's query tabs live,
 * through a Loro document in the server's CRDT room `ROOM_ID` (docs/rooms.md).
 *
 * A short probe asks the server whether it has rooms at all; only then is the Loro binding
 * (collabDoc.ts, with its WebAssembly) loaded.
 */
import {useEffect, useState} from 'react';
import {useApp} from './appContext';
import type {Workspace} from './workspace';

export const ROOM_ID = 'sqlrooms-app-tabs';
const PROBE_TIMEOUT_MS = 5000;

/** Whether the server at `wsUrl` hosts CRDT rooms: it answers a join with `crdt-joined`. */
export function probeSync(
  wsUrl: string,
  roomId: string = ROOM_ID,
  Impl: typeof WebSocket = WebSocket,
): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new Impl(wsUrl);
    const done = (available: boolean) => {
      clearTimeout(timer);
      ws.onmessage = ws.onerror = ws.onclose = null;
      ws.close();
      resolve(available);
    };
    const timer = setTimeout(() => done(false), PROBE_TIMEOUT_MS);
    ws.onopen = () => ws.send(JSON.stringify({type: 'crdt-join', roomId}));
    ws.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== 'string') return;
      try {
        done(JSON.parse(event.data).type === 'crdt-joined');
      } catch {
        done(false);
      }
    };
    ws.onerror = () => done(false);
    ws.onclose = () => done(false);
  });
}

/** The workspace with the shared tabs in place of its own (selection kept when it can be). */
export function withSharedTabs(ws: Workspace, tabs: Workspace['tabs']): Workspace {
  if (tabs.length === 0) return ws;
  const selectedTabId = tabs.some((t) => t.id === ws.selectedTabId) ? ws.selectedTabId : tabs[0].id;
  return {...ws, tabs, selectedTabId};
}

export type CollabStatus = 'off' | 'connecting' | 'live';

/** Shares this app's query tabs with everyone in the server's room, when it has rooms. */
export function useCollaboration(): CollabStatus {
  const {store, connection} = useApp();
  const [status, setStatus] = useState<CollabStatus>('off');
  useEffect(() => {
    document.documentElement.dataset.collab = status; // for tests and styling
  }, [status]);
  useEffect(() => {
    let stop: (() => void) | undefined;
    let cancelled = false;
    (async () => {
      if (!(await probeSync(connection.wsUrl)) || cancelled) return;
      setStatus('connecting');
      const {startCollab, mergeShared} = await import('./collabDoc');
      if (cancelled) return;
      const state = () => store.roomStore.getState();
      const session = startCollab({
        wsUrl: connection.wsUrl,
        roomId: ROOM_ID,
        tabs: () => state().workspace.state.tabs,
        onLocalChange: (listener) =>
          store.roomStore.subscribe((next, previous) => {
            if (next.workspace.state.tabs !== previous.workspace.state.tabs) listener();
          }),
        applyShared: (shared) =>
          state().workspace.update((ws) => withSharedTabs(ws, mergeShared(ws.tabs, shared))),
        onStatus: (s) =>
          setStatus(s === 'open' ? 'live' : s === 'connecting' ? 'connecting' : 'off'),
      });
      stop = session.stop;
    })().catch((error: unknown) => console.warn('[collab] not available', error));
    return () => {
      cancelled = true;
      stop?.();
    };
  }, [store, connection.wsUrl]);
  return status;
}
