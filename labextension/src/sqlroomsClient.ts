/**
 * A SQLRooms connection to one kernel's server, through the official client
 * (`createWebSocketDuckDbConnector` from `@sqlrooms/duckdb`).
 *
 * The connector subscribes to its channels only when its socket opens, so
 * watching another set of tables means a new connector. The swap waits until
 * no query is in flight: closing a socket fails the queries on it.
 */
import {
  createWebSocketDuckDbConnector,
  type WebSocketDuckDbConnector
} from '@sqlrooms/duckdb/dist/connectors/WebSocketDuckDbConnector';
import { Signal, type ISignal } from '@lumino/signaling';
import type { Table } from 'apache-arrow';
import {
  channelsForTables,
  parseTableChange,
  sameChannels,
  type ITableChange
} from './notifications';

/** What the panel needs from a connection (a fake in tests). */
export interface ISqlRoomsClient {
  /** Runs `sql`; rejects with an `AbortError` when `signal` aborts (the server cancels it). */
  query(sql: string, signal?: AbortSignal): Promise<Table>;
  /** Subscribes to `table:<name>` for exactly these tables. */
  watchTables(tableNames: readonly string[]): void;
  /** A watched table was created, replaced or dropped. */
  readonly tableChanged: ISignal<ISqlRoomsClient, ITableChange>;
  dispose(): void;
  readonly isDisposed: boolean;
}

/** Wait before reopening a dropped socket that carries subscriptions. */
const RECONNECT_MS = 3000;

export class SqlRoomsClient implements ISqlRoomsClient {
  constructor(private readonly wsUrl: string) {
    this.connector = this.createConnector([]);
  }

  get tableChanged(): ISignal<ISqlRoomsClient, ITableChange> {
    return this._tableChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  async query(sql: string, signal?: AbortSignal): Promise<Table> {
    if (this._isDisposed) {
      throw new Error('The SQLRooms connection is closed');
    }
    this.inFlight++;
    try {
      return await this.connector.query(sql, { signal });
    } finally {
      this.inFlight--;
      this.swapConnectorWhenIdle();
    }
  }

  watchTables(tableNames: readonly string[]): void {
    const channels = channelsForTables(tableNames);
    if (this._isDisposed || sameChannels(channels, this.wantedChannels)) {
      return;
    }
    this.wantedChannels = channels;
    this.swapConnectorWhenIdle();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.closeConnector();
    Signal.clearData(this);
  }

  private swapConnectorWhenIdle(): void {
    if (
      this._isDisposed ||
      this.inFlight > 0 ||
      sameChannels(this.wantedChannels, this.subscribedChannels)
    ) {
      return;
    }
    this.closeConnector();
    this.connector = this.createConnector(this.wantedChannels);
    // Open now, so the subscriptions start before the next query. (Not with
    // `initialize()`, which subscribes once more on a socket that just opened.)
    this.connector.reconnect().catch(() => this.scheduleReconnect());
  }

  private createConnector(channels: string[]): WebSocketDuckDbConnector {
    const connector = createWebSocketDuckDbConnector({
      wsUrl: this.wsUrl,
      subscribeChannels: channels,
      onNotification: payload => {
        const change = parseTableChange(payload);
        if (change && connector === this.connector) {
          this._tableChanged.emit(change);
        }
      }
    });
    this.subscribedChannels = channels;
    if (channels.length > 0) {
      this.stopWatchingStatus = connector.subscribeConnectionStatus(status => {
        if (status === 'disconnected') {
          this.scheduleReconnect();
        }
      });
    }
    return connector;
  }

  /** A socket with subscriptions must stay open; queries alone reopen it on demand. */
  private scheduleReconnect(): void {
    if (this.reconnectTimer !== null || this._isDisposed) {
      return;
    }
    const connector = this.connector;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (connector === this.connector && !this._isDisposed) {
        connector.reconnect().catch(() => this.scheduleReconnect());
      }
    }, RECONNECT_MS);
  }

  private closeConnector(): void {
    if (this.reconnectTimer !== null) {
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
    }
    this.stopWatchingStatus?.();
    this.stopWatchingStatus = null;
    void this.connector.destroy();
  }

  private connector: WebSocketDuckDbConnector;
  private subscribedChannels: string[] = [];
  private wantedChannels: string[] = [];
  private inFlight = 0;
  private stopWatchingStatus: (() => void) | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private _isDisposed = false;
  private readonly _tableChanged = new Signal<ISqlRoomsClient, ITableChange>(
    this
  );
}
