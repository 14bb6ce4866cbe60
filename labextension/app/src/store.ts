/**
 * The room store: the official DuckDB slice over the WebSocket connector (no DuckDB-WASM), the
 * Mosaic slice for charts, and the workspace (tabs, charts, history), saved on every change.
 */
import {createWebSocketDuckDbConnector, type DuckDbConnector} from '@sqlrooms/duckdb';
import {createDbSlice, type DbSliceState} from '@sqlrooms/db';
import {createMosaicSlice, type MosaicSliceState} from '@sqlrooms/mosaic';
import {
  type BaseRoomStoreState,
  createBaseRoomSlice,
  createRoomStore,
} from '@sqlrooms/room-store';
import type {Connection} from './connection';
import {isVisibleCatalogEntry, isVisibleTable} from './visibility';
import {parseWorkspace, serializeWorkspace, type Workspace} from './workspace';

export type WorkspaceSliceState = {
  workspace: {
    state: Workspace;
    update: (change: (ws: Workspace) => Workspace) => void;
  };
};

export type AppState = BaseRoomStoreState & DbSliceState & MosaicSliceState & WorkspaceSliceState;

/** Where the workspace is kept between reloads: per kernel under Jupyter, per server otherwise. */
export function storageKey(connection: Connection): string {
  return connection.mode === 'kernel'
    ? `sqlrooms-app:kernel:${connection.kernelId}`
    : `sqlrooms-app:${new URL(connection.wsUrl).host}`;
}

function loadWorkspace(key: string): Workspace {
  try {
    return parseWorkspace(window.localStorage.getItem(key));
  } catch {
    return parseWorkspace(null);
  }
}

function saveWorkspace(key: string, ws: Workspace): void {
  try {
    window.localStorage.setItem(key, serializeWorkspace(ws));
  } catch {
    // Storage full or disabled: the workspace lives on in memory.
  }
}

export type ConnectionStatus = 'idle' | 'connecting' | 'connected' | 'disconnected';

export function createAppStore(
  connection: Connection,
  onStatus: (status: ConnectionStatus) => void,
  onNotification: (payload: unknown) => void,
) {
  const connector: DuckDbConnector = createWebSocketDuckDbConnector({
    wsUrl: connection.wsUrl,
    onConnectionStatusChange: onStatus,
    onNotification,
  });
  const key = storageKey(connection);
  const store = createRoomStore<AppState>((set, get, api) => ({
    ...createBaseRoomSlice()(set, get, api),
    ...createDbSlice({
      duckDb: {
        connector,
        loadTableSchemasFilter: isVisibleTable,
        loadSchemaCatalogFilter: isVisibleCatalogEntry,
      },
    })(set, get, api),
    ...createMosaicSlice()(set, get, api),
    workspace: {
      state: loadWorkspace(key),
      update: (change) => {
        const next = change(get().workspace.state);
        set((s) => ({workspace: {...s.workspace, state: next}}));
        saveWorkspace(key, next);
      },
    },
  }));
  return {...store, connector};
}

export type AppStore = ReturnType<typeof createAppStore>;
