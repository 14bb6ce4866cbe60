// Interop test: drive a sqlrooms_jupyter server with the official SQLRooms client,
// `createWebSocketDuckDbConnector` from the npm package @sqlrooms/duckdb.
//
//   node duckdb-interop.mjs <ws-url> [auth-token]
//   SQLROOMS_WS_URL=ws://127.0.0.1:4000/ SQLROOMS_AUTH_TOKEN=... node duckdb-interop.mjs
//
// Prints one JSON line per check, {"check", "ok", "ms", "detail"|"error"}, then a
// {"summary": ...} line. Exits 1 if any check failed, 2 on a usage error or hang.
//
// With an auth token, it also checks that a wrong token and a missing token are refused.

import './register.mjs'; // resolve hook + globalThis.WebSocket; must run before the imports below

import {randomUUID} from 'node:crypto';
import * as arrow from 'apache-arrow';
import {WebSocket as WsWebSocket} from 'ws';

const {createWebSocketDuckDbConnector} = await import(
  '@sqlrooms/duckdb/dist/connectors/WebSocketDuckDbConnector.js'
);

const wsUrl = process.argv[2] || process.env.SQLROOMS_WS_URL;
const authToken = process.argv[3] || process.env.SQLROOMS_AUTH_TOKEN || undefined;
if (!wsUrl) {
  console.error('usage: node duckdb-interop.mjs <ws-url> [auth-token]');
  process.exit(2);
}

// Runs > 20 s on a 2-core machine: 10^10 rows in a cross join.
const LONG_SQL = 'select count(*) from range(100000) a, range(100000) b where a.range + b.range = 7';
const CHECK_TIMEOUT_MS = 15_000;
const OVERALL_TIMEOUT_MS = 50_000;

// ---------------------------------------------------------------------------
// Frame recorder: the connector swallows cancelAck / subscribed frames, so wrap
// the WebSocket it constructs and keep every text frame sent and received. This
// lets the checks assert on what the server actually did.

const frames = []; // {dir: 'in'|'out', socket: n, msg: object}
let socketCount = 0;

class RecordingWebSocket extends WsWebSocket {
  constructor(...args) {
    super(...args);
    const socket = ++socketCount;
    this.addEventListener('message', (event) => {
      if (typeof event.data === 'string') {
        try {
          frames.push({dir: 'in', socket, msg: JSON.parse(event.data)});
        } catch {
          frames.push({dir: 'in', socket, msg: {unparsable: event.data}});
        }
      }
    });
    this._recordedSocket = socket;
  }

  send(data, ...rest) {
    if (typeof data === 'string') {
      try {
        frames.push({dir: 'out', socket: this._recordedSocket, msg: JSON.parse(data)});
      } catch {
        // not JSON: not ours to record
      }
    }
    return super.send(data, ...rest);
  }
}
globalThis.WebSocket = RecordingWebSocket;

function findFrame(predicate) {
  return frames.find((f) => predicate(f.msg, f));
}

async function waitForFrame(what, predicate, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = findFrame(predicate);
    if (found) return found.msg;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

// ---------------------------------------------------------------------------
// Check runner

const results = [];
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

function describe(err) {
  if (err instanceof Error || err instanceof DOMException) return `${err.name}: ${err.message}`;
  return String(err);
}

function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

function assertEqual(actual, expected, what) {
  const a = typeof actual === 'bigint' ? `${actual}n` : JSON.stringify(actual);
  const e = typeof expected === 'bigint' ? `${expected}n` : JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

async function check(name, fn, timeoutMs = CHECK_TIMEOUT_MS) {
  const started = Date.now();
  let timer;
  try {
    const detail = await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`check timed out after ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    const line = {check: name, ok: true, ms: Date.now() - started};
    if (detail !== undefined) line.detail = detail;
    results.push(line);
    emit(line);
    return true;
  } catch (err) {
    const line = {check: name, ok: false, ms: Date.now() - started, error: describe(err)};
    results.push(line);
    emit(line);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

async function expectRejection(promise, what) {
  try {
    const value = await promise;
    throw new Error(`${what}: expected a rejection, but it resolved with ${describeValue(value)}`);
  } catch (err) {
    if (err?.message?.startsWith(`${what}: expected a rejection`)) throw err;
    return err;
  }
}

function describeValue(value) {
  if (value instanceof arrow.Table) return `an Arrow table of ${value.numRows} rows`;
  return String(value);
}

function column(table, name) {
  const vector = table.getChild(name);
  assert(vector, `result has a column "${name}" (columns: ${table.schema.fields.map((f) => f.name)})`);
  return vector.toArray();
}

// ---------------------------------------------------------------------------

const hardStop = setTimeout(() => {
  emit({check: 'overall', ok: false, error: `script did not finish within ${OVERALL_TIMEOUT_MS} ms`});
  process.exit(2);
}, OVERALL_TIMEOUT_MS);
hardStop.unref();

const channel = `interop-${randomUUID()}`;
const otherChannel = `interop-other-${randomUUID()}`;
const notificationsA = [];
const notificationsB = [];

const connector = createWebSocketDuckDbConnector({
  wsUrl,
  authToken,
  subscribeChannels: [channel],
  onNotification: (payload) => notificationsA.push(payload),
});
const connectorB = createWebSocketDuckDbConnector({
  wsUrl,
  authToken,
  subscribeChannels: [otherChannel],
  onNotification: (payload) => notificationsB.push(payload),
});

const initialized = await check('initialize', async () => {
  await connector.initialize();
  assertEqual(connector.type, 'ws', 'connector.type');
  assertEqual(connector.connectionStatus, 'connected', 'connectionStatus after initialize');
  if (authToken) {
    await waitForFrame('authAck', (m) => m.type === 'authAck');
  }
  return {connectionStatus: connector.connectionStatus, auth: Boolean(authToken)};
});

if (initialized) {
  await check('arrow-scalar', async () => {
    const table = await connector.query(`select 42::INTEGER as answer, 'hi' as s`);
    assertEqual(table.numRows, 1, 'numRows');
    assertEqual(
      table.schema.fields.map((f) => `${f.name}:${f.type}`),
      ['answer:Int32', 's:Utf8'],
      'schema',
    );
    assertEqual(table.get(0).toJSON(), {answer: 42, s: 'hi'}, 'row 0');
    return table.get(0).toJSON();
  });

  await check('arrow-range-1000-sum', async () => {
    const table = await connector.query('select range as i from range(1000)');
    assertEqual(table.numRows, 1000, 'numRows');
    let sum = 0n;
    for (const v of column(table, 'i')) sum += BigInt(v);
    assertEqual(sum, 499500n, 'sum of i');
    return {rows: table.numRows, sum: Number(sum)};
  });

  await check('arrow-large-result', async () => {
    // Big enough to span several record batches and a multi-megabyte frame.
    const n = 500_000;
    const table = await connector.query(
      `select range::BIGINT as i, range::DOUBLE / 2 as half from range(${n})`,
    );
    assertEqual(table.numRows, n, 'numRows');
    let sum = 0n;
    for (const v of column(table, 'i')) sum += BigInt(v);
    assertEqual(sum, BigInt(n) * BigInt(n - 1) / 2n, 'sum of i');
    assertEqual(table.get(n - 1).toJSON().half, (n - 1) / 2, 'last half');
    return {rows: table.numRows, batches: table.batches.length};
  });

  await check('query-json', async () => {
    const rows = [...(await connector.queryJson(
      `select * from (values (1, 'a'), (2, 'b')) t(id, label) order by id`,
    ))];
    assertEqual(rows.map((r) => [Number(r.id), r.label]), [[1, 'a'], [2, 'b']], 'rows');
    return rows.length;
  });

  await check('ddl-and-dml', async () => {
    const created = await connector.execute(
      'create or replace table interop_ddl(id INTEGER, label VARCHAR)',
    );
    assert(created instanceof arrow.Table, 'DDL resolves with an (empty) Arrow table');
    await connector.query(`insert into interop_ddl values (1, 'x'), (2, 'y'), (3, 'z')`);
    const table = await connector.query('select count(*)::INTEGER as n, sum(id)::INTEGER as s from interop_ddl');
    assertEqual(table.get(0).toJSON(), {n: 3, s: 6}, 'count/sum');
    return table.get(0).toJSON();
  });

  await check('sql-error', async () => {
    const err = await expectRejection(
      connector.query('select * from interop_no_such_table'),
      'query of a missing table',
    );
    assert(err instanceof Error, `rejects with an Error (got ${describe(err)})`);
    assert(
      /Catalog Error/.test(err.message) && /interop_no_such_table/.test(err.message),
      `error message is DuckDB's Catalog Error naming the table (got ${JSON.stringify(err.message)})`,
    );
    // And the connection still answers.
    const table = await connector.query('select 1 as one');
    assertEqual(table.get(0).toJSON(), {one: 1}, 'query after the error');
    return err.message.split('\n')[0];
  });

  await check('cancel-abortsignal', async () => {
    const controller = new AbortController();
    const startedAt = Date.now();
    const long = connector.query(LONG_SQL, {signal: controller.signal});
    // Settle-state tracking so we can prove the long query was still running.
    let longSettled = false;
    const longOutcome = long.then(
      (value) => {
        longSettled = true;
        return {value};
      },
      (error) => {
        longSettled = true;
        return {error};
      },
    );
    const sent = await waitForFrame('the long query to be sent', (m) => m.type === 'arrow' && m.sql === LONG_SQL);
    const qid = sent.queryId;
    await sleep(300);

    // A concurrent short query on the same connector answers while the long one runs.
    const short = await connector.query('select 7::INTEGER as x');
    assertEqual(short.get(0).toJSON(), {x: 7}, 'concurrent short query');
    assert(!longSettled, 'the long query is still running when the short one answers');

    controller.abort();
    const {value, error} = await longOutcome;
    assert(value === undefined, `long query rejected (resolved with ${describeValue(value)})`);
    assertEqual(error?.name, 'AbortError', 'rejection name');

    // The server must acknowledge the cancel and answer the query with an error.
    const cancelOut = await waitForFrame('the cancel frame to be sent', (m) => m.type === 'cancel' && m.queryId === qid);
    assert(cancelOut, 'cancel frame sent');
    const ack = await waitForFrame('cancelAck', (m) => m.type === 'cancelAck' && m.queryId === qid, 5_000);
    assertEqual(ack.cancelled, true, 'cancelAck.cancelled');
    const errFrame = await waitForFrame(
      'the error frame for the cancelled query',
      (m) => m.type === 'error' && m.queryId === qid,
      5_000,
    );
    const strays = frames.filter((f) => f.dir === 'in' && f.msg.queryId === qid && !['cancelAck', 'error'].includes(f.msg.type));
    assertEqual(strays.map((f) => f.msg), [], 'other frames for the cancelled query');
    return {queryId: qid, ranMs: Date.now() - startedAt, cancelAck: ack, error: errFrame.error};
  });

  await check('cancel-handle', async () => {
    const handle = connector.query(LONG_SQL);
    const outcome = handle.then((value) => ({value}), (error) => ({error}));
    const sentCount = frames.filter((f) => f.dir === 'out' && f.msg.sql === LONG_SQL).length;
    assert(sentCount >= 1, 'long query sent');
    await sleep(300);
    await handle.cancel();
    const {value, error} = await outcome;
    assert(value === undefined, `long query rejected (resolved with ${describeValue(value)})`);
    assertEqual(error?.name, 'AbortError', 'rejection name');
    const sent = frames.filter((f) => f.dir === 'out' && f.msg.sql === LONG_SQL).at(-1).msg;
    const ack = await waitForFrame('cancelAck', (m) => m.type === 'cancelAck' && m.queryId === sent.queryId, 5_000);
    assertEqual(ack.cancelled, true, 'cancelAck.cancelled');
    return {queryId: sent.queryId};
  });

  await check('after-cancel', async () => {
    const table = await connector.query('select sum(range)::BIGINT as s from range(10)');
    assertEqual(BigInt(table.get(0).toJSON().s), 45n, 'sum after cancels');
    assertEqual(connector.connectionStatus, 'connected', 'connectionStatus');
    return {connectionStatus: connector.connectionStatus};
  });

  await check('load-arrow-table', async () => {
    const table = arrow.tableFromArrays({
      id: Int32Array.from([1, 2, 3]),
      score: Float64Array.from([0.5, 1.5, 2.5]),
      name: arrow.vectorFromArray(['alpha', 'beta', null], new arrow.Utf8()),
    });
    await connector.loadArrow(table, 'interop_upload');
    const back = await connector.query(
      `select count(*)::INTEGER as n, sum(id)::INTEGER as ids, sum(score) as score,
              string_agg(name, ',' order by id) as names, count(name)::INTEGER as non_null
       from interop_upload`,
    );
    const row = back.get(0).toJSON();
    assertEqual(row, {n: 3, ids: 6, score: 4.5, names: 'alpha,beta', non_null: 2}, 'read back');
    const types = await connector.query(
      `select column_name, data_type from information_schema.columns
       where table_name = 'interop_upload' order by ordinal_position`,
    );
    const described = types.toArray().map((r) => `${r.column_name}:${r.data_type}`);
    assertEqual(described, ['id:INTEGER', 'score:DOUBLE', 'name:VARCHAR'], 'column types');
    return {row, types: described};
  });

  await check('load-arrow-ipc-bytes-replace', async () => {
    // The connector also accepts raw IPC stream bytes; uploading again replaces the table.
    const table = arrow.tableFromArrays({x: Float64Array.from([10, 20, 30, 40])});
    await connector.loadArrow(arrow.tableToIPC(table, 'stream'), 'interop_upload');
    const back = await connector.query('select count(*)::INTEGER as n, sum(x) as s from interop_upload');
    assertEqual(back.get(0).toJSON(), {n: 4, s: 100}, 'read back');
    return back.get(0).toJSON();
  });

  await check('notification', async () => {
    await connectorB.initialize();
    // Subscriptions are sent on open; wait until the server confirmed both.
    await waitForFrame(`subscribed ${channel}`, (m) => m.type === 'subscribed' && m.channel === channel);
    await waitForFrame(`subscribed ${otherChannel}`, (m) => m.type === 'subscribed' && m.channel === otherChannel);

    // The connector has no publish API: publish from a plain WebSocket client.
    const payload = {hello: 'from raw ws', n: 3, nested: {list: [1, 'two', null]}};
    const publisher = new WsWebSocket(wsUrl);
    const received = [];
    await new Promise((resolve, reject) => {
      publisher.once('open', resolve);
      publisher.once('error', reject);
    });
    publisher.on('message', (data, isBinary) => {
      if (!isBinary) received.push(JSON.parse(data.toString()));
    });
    const waitPublisher = async (what, predicate) => {
      const deadline = Date.now() + 5_000;
      while (!received.some(predicate)) {
        if (Date.now() > deadline) throw new Error(`publisher: timed out waiting for ${what}; got ${JSON.stringify(received)}`);
        await sleep(20);
      }
      return received.find(predicate);
    };
    try {
      if (authToken) {
        publisher.send(JSON.stringify({type: 'auth', token: authToken}));
        await waitPublisher('authAck', (m) => m.type === 'authAck');
      }
      publisher.send(JSON.stringify({type: 'notify', channel, payload}));
      await waitPublisher('notifyAck', (m) => m.type === 'notifyAck' && m.channel === channel);
    } finally {
      publisher.close();
    }

    const deadline = Date.now() + 5_000;
    while (notificationsA.length === 0 && Date.now() < deadline) await sleep(20);
    assertEqual(notificationsA, [payload], 'payloads delivered to the subscribed connector');
    // Barrier on B: any notify sent to B before this answer would have arrived by now.
    await connectorB.query('select 1');
    assertEqual(notificationsB, [], 'payloads delivered to a connector subscribed to another channel');
    return {channel, payload: notificationsA[0]};
  });

  if (authToken) {
    await check('auth-wrong-token', async () => {
      const bad = createWebSocketDuckDbConnector({wsUrl, authToken: `${authToken}-wrong`});
      const err = await expectRejection(bad.initialize(), 'initialize with a wrong token');
      assert(/unauthorized/i.test(err?.message ?? ''), `rejection says unauthorized (got ${describe(err)})`);
      const queryErr = await expectRejection(bad.query('select 1'), 'query with a wrong token');
      assert(/unauthorized/i.test(queryErr?.message ?? ''), `query rejection says unauthorized (got ${describe(queryErr)})`);
      await bad.destroy();
      return {initialize: err.message, query: queryErr.message};
    });

    await check('auth-missing-token', async () => {
      // Without a token the connector opens and sends the query first: the server refuses it.
      const bare = createWebSocketDuckDbConnector({wsUrl});
      await bare.initialize();
      const err = await expectRejection(bare.query('select 1'), 'query without a token');
      assert(/unauthorized/i.test(err?.message ?? ''), `rejection says unauthorized (got ${describe(err)})`);
      await bare.destroy();
      return err.message;
    });
  }

  await check('destroy', async () => {
    await connector.destroy();
    await connectorB.destroy();
    assertEqual(connector.connectionStatus, 'idle', 'connectionStatus after destroy');
    return connector.connectionStatus;
  });
}

const failed = results.filter((r) => !r.ok).map((r) => r.check);
emit({summary: failed.length ? 'FAILED' : 'OK', passed: results.length - failed.length, failed});
process.exit(failed.length ? 1 : 0);
