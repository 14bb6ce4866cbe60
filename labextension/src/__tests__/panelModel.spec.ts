import { Signal } from '@lumino/signaling';
import { tableFromJSON, type Table } from 'apache-arrow';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { IKernelChoice, IKernelDirectory } from '../kernels';
import type { ITableChange } from '../notifications';
import {
  PanelModel,
  START_TIMEOUT_MS,
  type IPanelServices
} from '../panelModel';
import {
  COLUMNS_SQL,
  CURRENT_DATABASE_SQL,
  RELATIONS_SQL,
  SCHEMATA_SQL
} from '../schema';
import type { IKernelServerStatus, ISqlRoomsApi } from '../serverApi';
import type { ISqlRoomsClient } from '../sqlroomsClient';

const KERNEL = 'kernel-1';

function serverStatus(shared: string[] = []): IKernelServerStatus {
  return {
    kernel_id: KERNEL,
    url: 'ws://127.0.0.1:4000/',
    uptime_seconds: 1,
    database: ':memory:',
    connections: 0,
    queries: [],
    channels: {},
    sync: false,
    shared
  };
}

/** Answers catalog queries from fixed rows; other SQL goes to `answer`. */
class FakeClient implements ISqlRoomsClient {
  readonly queries: string[] = [];
  watched: readonly string[] = [];
  isDisposed = false;
  answer: (sql: string, signal?: AbortSignal) => Promise<Table> = async () =>
    tableFromJSON([{ answer: 42 }]);

  get tableChanged(): Signal<ISqlRoomsClient, ITableChange> {
    return this.changes;
  }

  async query(sql: string, signal?: AbortSignal): Promise<Table> {
    this.queries.push(sql);
    const catalog = CATALOG.get(sql);
    if (catalog) {
      return tableFromJSON(catalog);
    }
    if (sql.includes('describe')) {
      return tableFromJSON([
        {
          database_name: '',
          schema_name: '',
          relation_name: 'trips',
          column_name: 'fare',
          data_type: 'DOUBLE'
        }
      ]);
    }
    return this.answer(sql, signal);
  }

  watchTables(tableNames: readonly string[]): void {
    this.watched = tableNames;
  }

  dispose(): void {
    this.isDisposed = true;
  }

  readonly changes = new Signal<ISqlRoomsClient, ITableChange>(this);
}

const CATALOG = new Map<string, Record<string, unknown>[]>([
  [CURRENT_DATABASE_SQL, [{ name: 'memory' }]],
  [SCHEMATA_SQL, [{ database_name: 'memory', schema_name: 'main' }]],
  [
    RELATIONS_SQL,
    [
      {
        database_name: 'memory',
        schema_name: 'main',
        relation_name: 'events',
        kind: 'table'
      }
    ]
  ],
  [
    COLUMNS_SQL,
    [
      {
        database_name: 'memory',
        schema_name: 'main',
        relation_name: 'events',
        column_name: 'id',
        data_type: 'BIGINT'
      }
    ]
  ]
]);

class FakeKernels implements IKernelDirectory {
  kernels: IKernelChoice[] = [{ id: KERNEL, label: 'analysis.ipynb' }];
  readonly changed: Signal<IKernelDirectory, void> = new Signal(this);
  start: (kernelId: string) => Promise<void> = async () => undefined;

  running(): IKernelChoice[] {
    return this.kernels;
  }

  startSqlRooms(kernelId: string): Promise<void> {
    return this.start(kernelId);
  }
}

class FakeApi implements ISqlRoomsApi {
  status: IKernelServerStatus | null = null;
  async listKernelServers() {
    return [];
  }
  async kernelServerStatus(): Promise<IKernelServerStatus | null> {
    return this.status;
  }
}

/** Lets pending promise callbacks run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
}

describe('PanelModel', () => {
  let api: FakeApi;
  let kernels: FakeKernels;
  let clients: FakeClient[];
  let clock: number;
  let services: IPanelServices;
  let models: PanelModel[];

  /** A model bound to `kernelId`, disposed after the test. */
  function makeModel(kernelId: string | null): PanelModel {
    const model = new PanelModel(services, kernelId);
    models.push(model);
    return model;
  }

  afterEach(() => {
    models.forEach(model => model.dispose());
  });

  beforeEach(() => {
    models = [];
    api = new FakeApi();
    kernels = new FakeKernels();
    clients = [];
    clock = 0;
    services = {
      api,
      kernels,
      connect: () => {
        const client = new FakeClient();
        clients.push(client);
        return client;
      },
      now: () => clock,
      sleep: async ms => {
        clock += ms;
      }
    };
  });

  async function runningModel(shared: string[] = []): Promise<PanelModel> {
    api.status = serverStatus(shared);
    const model = makeModel(KERNEL);
    await settle();
    expect(model.state.server.kind).toBe('running');
    return model;
  }

  it('has nothing to do without a kernel', async () => {
    const model = makeModel(null);
    await settle();
    expect(model.state.server).toEqual({ kind: 'no-kernel' });
    expect(model.state.kernels).toEqual(kernels.kernels);
  });

  it('says so when the kernel runs no server', async () => {
    const model = makeModel(KERNEL);
    await settle();
    expect(model.state.server).toEqual({ kind: 'absent' });
    expect(clients).toHaveLength(0);
  });

  it('starts a server in the kernel, then connects and loads the schema', async () => {
    const model = makeModel(KERNEL);
    await settle();
    let checks = 0;
    api.kernelServerStatus = async () =>
      ++checks >= 3 ? serverStatus(['trips']) : null;
    kernels.start = vi.fn(async () => undefined);

    await model.startServer();
    await settle();

    expect(kernels.start).toHaveBeenCalledWith(KERNEL);
    expect(model.state.server.kind).toBe('running');
    expect(clients).toHaveLength(1);
    const tree = model.state.schema.tree!;
    expect(tree.databases[0].schemas[0].relations[0].name).toBe('events');
    expect(tree.shared).toEqual([
      {
        name: 'trips',
        kind: 'shared',
        columns: [{ name: 'fare', type: 'DOUBLE' }]
      }
    ]);
    expect(clients[0].watched).toEqual(['events', 'trips']);
  });

  it('shows what the kernel printed when starting fails', async () => {
    const model = makeModel(KERNEL);
    await settle();
    kernels.start = async () => {
      throw new Error('Starting SQLRooms failed (ModuleNotFoundError: x)');
    };
    await model.startServer();
    expect(model.state.server).toEqual({
      kind: 'error',
      message: 'Starting SQLRooms failed (ModuleNotFoundError: x)'
    });
  });

  it('gives up when no server appears after starting', async () => {
    const model = makeModel(KERNEL);
    await settle();
    await model.startServer();
    expect(model.state.server.kind).toBe('error');
    expect(clock).toBeGreaterThanOrEqual(START_TIMEOUT_MS);
  });

  it('runs a query and keeps its result, row count and time', async () => {
    const model = await runningModel();
    clients[0].answer = async () => {
      clock += 25;
      return tableFromJSON([{ n: 1 }, { n: 2 }]);
    };
    await model.run('  select n from t  ');
    const query = model.state.query;
    expect(query.kind).toBe('done');
    if (query.kind === 'done') {
      expect(query.sql).toBe('select n from t');
      expect(query.result.totalRows).toBe(2);
      expect(query.result.rows).toEqual([['1'], ['2']]);
      expect(query.elapsedMs).toBe(25);
      expect(query.refreshedBy).toBeNull();
    }
  });

  it('shows errors, and runs again afterwards', async () => {
    const model = await runningModel();
    clients[0].answer = async () => {
      throw new Error('Catalog Error: Table with name nope does not exist!');
    };
    await model.run('select * from nope');
    expect(model.state.query).toMatchObject({
      kind: 'failed',
      error: 'Catalog Error: Table with name nope does not exist!'
    });
    clients[0].answer = async () => tableFromJSON([{ ok: true }]);
    await model.run('select true as ok');
    expect(model.state.query.kind).toBe('done');
  });

  it('cancels the running query through its abort signal', async () => {
    const model = await runningModel();
    let seenSignal: AbortSignal | undefined;
    clients[0].answer = (_sql, signal) =>
      new Promise((_resolve, reject) => {
        seenSignal = signal;
        signal?.addEventListener('abort', () =>
          reject(new DOMException('Query was cancelled', 'AbortError'))
        );
      });
    const running = model.run('select count(*) from range(1e10)');
    await settle();
    expect(model.state.query.kind).toBe('running');
    model.cancel();
    await running;
    expect(seenSignal?.aborted).toBe(true);
    expect(model.state.query.kind).toBe('cancelled');
  });

  it('ignores Run while a query is running', async () => {
    const model = await runningModel();
    clients[0].answer = () => new Promise(() => undefined);
    void model.run('select 1');
    await settle();
    await model.run('select 2');
    expect(clients[0].queries.filter(sql => /^select \d$/.test(sql))).toEqual([
      'select 1'
    ]);
  });

  it('re-runs the last query when a watched table is replaced', async () => {
    const model = await runningModel(['trips']);
    let n = 0;
    clients[0].answer = async () => tableFromJSON([{ n: ++n }]);
    await model.run('select count(*) as n from trips');
    const catalogQueries = clients[0].queries.length;

    clients[0].changes.emit({ op: 'replace' });
    await settle();

    const query = model.state.query;
    expect(query.kind === 'done' && query.result.rows).toEqual([['2']]);
    expect(query.kind === 'done' && query.refreshedBy).toEqual({
      op: 'replace'
    });
    // A replaced table keeps its place in the tree: no catalog reload.
    expect(clients[0].queries.length).toBe(catalogQueries + 1);
  });

  it('reloads the schema when a table is created or dropped', async () => {
    const model = await runningModel(['trips']);
    const before = clients[0].queries.length;
    clients[0].changes.emit({ op: 'drop' });
    await settle();
    expect(clients[0].queries.slice(before)).toContain(RELATIONS_SQL);
    expect(model.state.query.kind).toBe('idle');
  });

  it('reloads the schema when the kernel shares another object', async () => {
    const model = await runningModel(['trips']);
    const before = clients[0].queries.length;
    await model.refreshStatus();
    expect(clients[0].queries.length).toBe(before);

    api.status = serverStatus(['trips', 'zones']);
    await model.refreshStatus();
    await settle();
    expect(model.state.schema.tree!.shared.map(r => r.name)).toEqual([
      'trips',
      'zones'
    ]);
  });

  it('Reload asks for the shared objects, then reads the catalog once', async () => {
    const model = await runningModel(['trips']);
    const catalogLoads = (): number =>
      clients[0].queries.filter(sql => sql === RELATIONS_SQL).length;
    expect(catalogLoads()).toBe(1);

    await model.reloadSchema();
    expect(catalogLoads()).toBe(2);

    api.status = serverStatus(['trips', 'zones']);
    await model.reloadSchema();
    expect(catalogLoads()).toBe(3);
    expect(model.state.schema.tree!.shared.map(r => r.name)).toEqual([
      'trips',
      'zones'
    ]);
  });

  it('drops the connection when the server goes away', async () => {
    const model = await runningModel();
    api.status = null;
    await model.refreshStatus();
    expect(model.state.server).toEqual({ kind: 'absent' });
    expect(clients[0].isDisposed).toBe(true);
    expect(model.state.schema.tree).toBeNull();
  });

  it('switching kernels cancels the query and closes the old connection', async () => {
    const model = await runningModel();
    let aborted = false;
    clients[0].answer = (_sql, signal) =>
      new Promise((_resolve, reject) => {
        signal?.addEventListener('abort', () => {
          aborted = true;
          reject(new DOMException('Query was cancelled', 'AbortError'));
        });
      });
    void model.run('select 1');
    await settle();
    api.status = null;
    await model.selectKernel('kernel-2');
    await settle();
    expect(aborted).toBe(true);
    expect(clients[0].isDisposed).toBe(true);
    expect(model.state.kernelId).toBe('kernel-2');
    expect(model.state.query.kind).toBe('idle');
  });

  it('follows the list of running kernels', async () => {
    const model = makeModel(null);
    kernels.kernels = [...kernels.kernels, { id: 'k2', label: 'other.ipynb' }];
    kernels.changed.emit();
    expect(model.state.kernels.map(k => k.id)).toEqual([KERNEL, 'k2']);
  });
});
