/**
 * The SQLRooms panel's state and behaviour, apart from its rendering: which
 * kernel it is bound to, whether that kernel runs a server, the schema, and
 * the query being run. Services come in through {@link IPanelServices}, so
 * this is tested with fakes.
 */
import { Signal, type ISignal } from '@lumino/signaling';
import type { Table } from 'apache-arrow';
import type { IKernelChoice, IKernelDirectory } from './kernels';
import type { ITableChange } from './notifications';
import { toResultGrid, type IResultGrid } from './resultGrid';
import {
  buildSchemaTree,
  COLUMNS_SQL,
  CURRENT_DATABASE_SQL,
  RELATIONS_SQL,
  relationNames,
  SCHEMATA_SQL,
  sharedColumnsSql,
  type IColumnRow,
  type IRelationRow,
  type ISchemaTree
} from './schema';
import type { IKernelServerStatus, ISqlRoomsApi } from './serverApi';
import type { ISqlRoomsClient } from './sqlroomsClient';

export interface IPanelServices {
  readonly api: ISqlRoomsApi;
  readonly kernels: IKernelDirectory;
  /** Opens a connection to a kernel's SQLRooms server. */
  connect(kernelId: string): ISqlRoomsClient;
  /** Milliseconds since some fixed point (`performance.now`). */
  now(): number;
  /** Waits, between checks for a server that is starting. */
  sleep(ms: number): Promise<void>;
}

export type ServerState =
  | { readonly kind: 'no-kernel' }
  | { readonly kind: 'checking' }
  | { readonly kind: 'absent' }
  | { readonly kind: 'starting' }
  | { readonly kind: 'running'; readonly status: IKernelServerStatus }
  | { readonly kind: 'error'; readonly message: string };

export interface ISchemaState {
  readonly tree: ISchemaTree | null;
  readonly defaultDatabase: string;
  readonly loading: boolean;
  readonly error: string | null;
}

export type QueryState =
  | { readonly kind: 'idle' }
  | {
      readonly kind: 'running';
      readonly sql: string;
      readonly startedAt: number;
    }
  | {
      readonly kind: 'done';
      readonly sql: string;
      readonly result: IResultGrid;
      readonly elapsedMs: number;
      /** Set when a table change re-ran the query. */
      readonly refreshedBy: ITableChange | null;
    }
  | {
      readonly kind: 'failed';
      readonly sql: string;
      readonly error: string;
      readonly elapsedMs: number;
    }
  | {
      readonly kind: 'cancelled';
      readonly sql: string;
      readonly elapsedMs: number;
    };

export interface IPanelState {
  readonly kernels: readonly IKernelChoice[];
  readonly kernelId: string | null;
  readonly server: ServerState;
  readonly schema: ISchemaState;
  readonly query: QueryState;
}

/** How long "Start" waits for the server extension to see the new server. */
export const START_TIMEOUT_MS = 20_000;
const START_CHECK_INTERVAL_MS = 500;

const EMPTY_SCHEMA: ISchemaState = {
  tree: null,
  defaultDatabase: 'memory',
  loading: false,
  error: null
};

export class PanelModel {
  constructor(
    private readonly services: IPanelServices,
    kernelId: string | null
  ) {
    this._state = {
      kernels: services.kernels.running(),
      kernelId: null,
      server: { kind: 'no-kernel' },
      schema: EMPTY_SCHEMA,
      query: { kind: 'idle' }
    };
    services.kernels.changed.connect(this.onKernelsChanged, this);
    void this.selectKernel(kernelId);
  }

  get state(): IPanelState {
    return this._state;
  }

  get stateChanged(): ISignal<PanelModel, IPanelState> {
    return this._stateChanged;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Binds the panel to a kernel (or to none), dropping the previous connection. */
  async selectKernel(kernelId: string | null): Promise<void> {
    if (this._isDisposed) {
      return;
    }
    this.abandonQuery();
    this.closeClient();
    this.update({
      kernelId,
      server: kernelId ? { kind: 'checking' } : { kind: 'no-kernel' },
      schema: EMPTY_SCHEMA,
      query: { kind: 'idle' }
    });
    if (kernelId) {
      await this.refreshStatus();
    }
  }

  /**
   * Asks the server extension about the bound kernel; connects when a server
   * appeared, reloads the schema when the shared objects changed.
   */
  async refreshStatus(): Promise<void> {
    await this.checkServer();
  }

  /** The schema browser's Reload: the shared objects, then the catalog. */
  async reloadSchema(): Promise<void> {
    if (!(await this.checkServer())) {
      await this.refreshSchema();
    }
  }

  /** Updates the status; true when that reloaded the schema already. */
  private async checkServer(): Promise<boolean> {
    const kernelId = this._state.kernelId;
    if (!kernelId || this._state.server.kind === 'starting') {
      return false;
    }
    let status: IKernelServerStatus | null;
    try {
      status = await this.services.api.kernelServerStatus(kernelId);
    } catch (error) {
      if (kernelId === this._state.kernelId) {
        this.update({ server: { kind: 'error', message: messageOf(error) } });
      }
      return false;
    }
    if (kernelId !== this._state.kernelId || this._isDisposed) {
      return false;
    }
    const schemaLoad = this.applyStatus(status);
    await schemaLoad;
    return schemaLoad !== null;
  }

  /** Runs the start magics in the bound kernel, then waits for its server. */
  async startServer(): Promise<void> {
    const kernelId = this._state.kernelId;
    if (!kernelId || this._state.server.kind === 'starting') {
      return;
    }
    this.update({ server: { kind: 'starting' } });
    try {
      await this.services.kernels.startSqlRooms(kernelId);
      const status = await this.waitForServer(kernelId);
      if (kernelId !== this._state.kernelId || this._isDisposed) {
        return;
      }
      if (!status) {
        this.update({
          server: {
            kind: 'error',
            message:
              'The kernel ran the start magics, but no SQLRooms server appeared. ' +
              'Is the sqlrooms_jupyter server extension enabled?'
          }
        });
        return;
      }
      this.update({ server: { kind: 'checking' } });
      await this.applyStatus(status);
    } catch (error) {
      if (kernelId === this._state.kernelId) {
        this.update({ server: { kind: 'error', message: messageOf(error) } });
      }
    }
  }

  /** Loads databases, schemas, tables, views, shared objects and their columns. */
  async refreshSchema(): Promise<void> {
    const client = this.client;
    const server = this._state.server;
    if (!client || server.kind !== 'running') {
      return;
    }
    const sharedNames = server.status.shared ?? [];
    this.update({ schema: { ...this._state.schema, loading: true } });
    try {
      const sharedSql = sharedColumnsSql(sharedNames);
      const [database, schemata, relations, columns, sharedColumns] =
        await Promise.all([
          client.query(CURRENT_DATABASE_SQL),
          client.query(SCHEMATA_SQL),
          client.query(RELATIONS_SQL),
          client.query(COLUMNS_SQL),
          sharedSql ? client.query(sharedSql) : Promise.resolve(null)
        ]);
      if (client !== this.client) {
        return;
      }
      const tree = buildSchemaTree(
        rowsOf(schemata),
        rowsOf<IRelationRow>(relations),
        rowsOf<IColumnRow>(columns),
        sharedNames,
        sharedColumns ? rowsOf<IColumnRow>(sharedColumns) : []
      );
      const defaultDatabase =
        rowsOf<{ name: string }>(database)[0]?.name ?? 'memory';
      this.update({
        schema: { tree, defaultDatabase, loading: false, error: null }
      });
      client.watchTables(relationNames(tree));
    } catch (error) {
      if (client === this.client) {
        this.update({
          schema: {
            ...this._state.schema,
            loading: false,
            error: messageOf(error)
          }
        });
      }
    }
  }

  /** Runs `sql`, unless a query is running already. */
  async run(
    sql: string,
    refreshedBy: ITableChange | null = null
  ): Promise<void> {
    const client = this.client;
    const text = sql.trim();
    if (!client || !text || this._state.query.kind === 'running') {
      return;
    }
    const abort = new AbortController();
    this.abort = abort;
    const startedAt = this.services.now();
    this.update({ query: { kind: 'running', sql: text, startedAt } });
    let next: QueryState;
    try {
      const table = await client.query(text, abort.signal);
      const elapsedMs = this.services.now() - startedAt;
      next = {
        kind: 'done',
        sql: text,
        result: toResultGrid(table),
        elapsedMs,
        refreshedBy
      };
    } catch (error) {
      const elapsedMs = this.services.now() - startedAt;
      next = abort.signal.aborted
        ? { kind: 'cancelled', sql: text, elapsedMs }
        : { kind: 'failed', sql: text, error: messageOf(error), elapsedMs };
    }
    if (this.abort === abort) {
      this.abort = null;
      this.update({ query: next });
    }
  }

  /** Cancels the running query: the server interrupts it. */
  cancel(): void {
    this.abort?.abort();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.abandonQuery();
    this.closeClient();
    Signal.clearData(this);
  }

  /** Takes in a status; returns the schema load it started, if any. */
  private applyStatus(
    status: IKernelServerStatus | null
  ): Promise<void> | null {
    if (!status) {
      this.closeClient();
      this.update({ server: { kind: 'absent' }, schema: EMPTY_SCHEMA });
      return null;
    }
    const previous = this._state.server;
    const sharedBefore =
      previous.kind === 'running' ? (previous.status.shared ?? []) : null;
    this.update({ server: { kind: 'running', status } });
    if (!this.client) {
      this.client = this.services.connect(status.kernel_id);
      this.client.tableChanged.connect(this.onTableChanged, this);
      return this.refreshSchema();
    }
    if (!sameNames(sharedBefore, status.shared ?? [])) {
      return this.refreshSchema();
    }
    return null;
  }

  private async waitForServer(
    kernelId: string
  ): Promise<IKernelServerStatus | null> {
    const deadline = this.services.now() + START_TIMEOUT_MS;
    for (;;) {
      const status = await this.services.api.kernelServerStatus(kernelId);
      if (status || this.services.now() >= deadline || this._isDisposed) {
        return status;
      }
      await this.services.sleep(START_CHECK_INTERVAL_MS);
    }
  }

  private onTableChanged(_client: ISqlRoomsClient, change: ITableChange): void {
    if (change.op !== 'replace') {
      void this.refreshSchema();
    }
    const query = this._state.query;
    if (query.kind === 'done' || query.kind === 'failed') {
      void this.run(query.sql, change);
    }
  }

  /** Cancels the running query and drops its answer, which nobody needs any more. */
  private abandonQuery(): void {
    const abort = this.abort;
    this.abort = null;
    abort?.abort();
  }

  private onKernelsChanged(): void {
    this.update({ kernels: this.services.kernels.running() });
  }

  private closeClient(): void {
    this.client?.dispose();
    this.client = null;
  }

  private update(change: Partial<IPanelState>): void {
    if (this._isDisposed) {
      return;
    }
    this._state = { ...this._state, ...change };
    this._stateChanged.emit(this._state);
  }

  private _state: IPanelState;
  private client: ISqlRoomsClient | null = null;
  private abort: AbortController | null = null;
  private _isDisposed = false;
  private readonly _stateChanged = new Signal<PanelModel, IPanelState>(this);
}

function rowsOf<T = Record<string, unknown>>(table: Table): T[] {
  return table.toArray().map(row => row.toJSON() as T);
}

function sameNames(
  before: readonly string[] | null,
  after: readonly string[]
): boolean {
  return (
    before !== null &&
    before.length === after.length &&
    before.every((name, i) => name === after[i])
  );
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}
