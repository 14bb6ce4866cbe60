/**
 * The room store: the official DuckDB slice over the WebSocket connector (no DuckDB-WASM), the
 * Mosaic slice for charts, and the workspace (tabs, charts, history), handed to the caller to
 * save on every change (see persistence.ts).
 */
import {createWebSocketDuckDbConnector, type DuckDbConnector} from '@sqlrooms/duckdb';
import {createDbSlice, type DbSliceState} from '@sqlrooms/db';
import {createMosaicSlice, type MosaicSliceState} from '@sqlrooms/mosaic';
import {type BaseRoomStoreState, createBaseRoomSlice, createRoomStore} from '@sqlrooms/room-store';
import type {Connection} from './connection';
import {isVisibleCatalogEntry, isVisibleTable} from './visibility';
import type {ProgressQueryClient} from './queryClient';
import type {Workspace} from './workspace';

export type WorkspaceSliceState = {
  workspace: {
    state: Workspace;
    update: (change: (ws: Workspace) => Workspace) => void;
  };
};

export type AppState = BaseRoomStoreState & DbSliceState & MosaicSliceState & WorkspaceSliceState;

/** The localStorage key of the workspace: per kernel under Jupyter, per server otherwise. */
export function storageKey(connection: Connection): string {
  return connection.mode === 'kernel'
    ? `sqlrooms-app:kernel:${connection.kernelId}`
    : `sqlrooms-app:${new URL(connection.wsUrl).host}`;
}

export type ConnectionStatus = 'idle' | 'connecting' | 'connected' | 'disconnected';

export type AppStoreOptions = {
  connection: Connection;
  /** The app's own query socket (progress, cancel). */
  queries: ProgressQueryClient;
  /** The workspace restored at start. */
  initial: Workspace;
  /** Called with every new workspace (the caller saves it, debounced). */
  onWorkspace: (ws: Workspace) => void;
  onStatus: (status: ConnectionStatus) => void;
};

export function createAppStore({
  connection,
  queries,
  initial,
  onWorkspace,
  onStatus,
}: AppStoreOptions) {
  const connector: DuckDbConnector = createWebSocketDuckDbConnector({
    wsUrl: connection.wsUrl,
    onConnectionStatusChange: onStatus,
  });
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
      state: initial,
      update: (change) => {
        const previous = get().workspace.state;
        const next = change(previous);
        if (next === previous) return;
        set((s) => ({workspace: {...s.workspace, state: next}}));
        onWorkspace(next);
      },
    },
  }));
  return {...store, connector, queries, connection};
}

export type AppStore = ReturnType<typeof createAppStore>;
