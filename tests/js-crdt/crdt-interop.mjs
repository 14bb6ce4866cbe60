// Two LoroDocs synced through one room by the official @sqlrooms/crdt connector.
//
// usage: node crdt-interop.mjs <ws-url> <roomId> [token]
//
// The Python test has already written {shared: {py: "hello"}} into the room with
// the Python `loro` package and stays connected. This script:
//   1. connects docs A and B and waits until both show the Python edit (snapshot path);
//   2. edits A and B concurrently (text, map, list) and waits until they converge;
//   3. prints {"phase":"converged","value":...} and waits for a line on stdin, which
//      the test sends after a live Python edit; waits until A and B both show it;
//   4. prints {"phase":"done","value":...} and exits 0 (1 on any failure or timeout).
import {createInterface} from 'node:readline';
import {isDeepStrictEqual} from 'node:util';

import {WebSocket} from 'ws';
import {LoroDoc} from 'loro-crdt';
// The narrowest module: it imports only loro-crdt, so plain Node needs no resolve hook
// (the package index re-exports bundler-style extensionless paths).
import {createWebSocketSyncConnector} from '@sqlrooms/crdt/dist/sync/webSocketSyncConnector.js';

// Node 20 has no global WebSocket; the connector creates sockets with `new WebSocket`.
globalThis.WebSocket ??= WebSocket;

const [url, roomId, token] = process.argv.slice(2);
if (!url || !roomId) {
  console.error('usage: node crdt-interop.mjs <ws-url> <roomId> [token]');
  process.exit(2);
}

const fail = (message) => {
  console.log(JSON.stringify({phase: 'failed', error: message}));
  process.exit(1);
};
setTimeout(() => fail('timed out'), 40_000).unref();

const statuses = {a: [], b: []};
const connect = (name) => {
  const doc = new LoroDoc();
  const connector = createWebSocketSyncConnector({
    url,
    roomId,
    token,
    clientId: `js-${name}`,
    maxRetries: 0,
    onStatus: (status) => statuses[name].push(status),
  });
  return {doc, connector};
};

const waitFor = async (what, predicate, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) {
      fail(`${what}: A=${JSON.stringify(a.doc.toJSON())} B=${JSON.stringify(b.doc.toJSON())}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

const a = connect('a');
const b = connect('b');
await a.connector.connect(a.doc);
await b.connector.connect(b.doc);

const shows = (doc, key, value) => doc.toJSON().shared?.[key] === value;
await waitFor('the Python edit via the server snapshot', () =>
  [a, b].every(({doc}) => shows(doc, 'py', 'hello')),
);

// Concurrent edits: both commit before either has seen the other's.
a.doc.getText('text').insert(0, 'from A');
a.doc.getMap('shared').set('a', 1);
a.doc.getList('items').push('a');
a.doc.commit();
b.doc.getText('text').insert(0, 'from B');
b.doc.getMap('shared').set('b', 2);
b.doc.getList('items').push('b');
b.doc.commit();

const converged = () => {
  const [va, vb] = [a.doc.toJSON(), b.doc.toJSON()];
  return (
    isDeepStrictEqual(va, vb) &&
    va.shared?.a === 1 &&
    va.shared?.b === 2 &&
    va.items?.length === 2 &&
    va.text?.includes('from A') &&
    va.text?.includes('from B')
  );
};
await waitFor('A and B converging after concurrent edits', converged);
console.log(JSON.stringify({phase: 'converged', value: a.doc.toJSON()}));

// The test now makes a live edit from Python, then tells us to look for it.
const lines = createInterface({input: process.stdin});
await new Promise((resolve) => lines.once('line', resolve));
await waitFor('the live Python edit', () =>
  [a, b].every(({doc}) => shows(doc, 'live', 'from python')) &&
  isDeepStrictEqual(a.doc.toJSON(), b.doc.toJSON()),
);
lines.close();

console.log(JSON.stringify({phase: 'done', value: a.doc.toJSON(), statuses}));
await a.connector.disconnect();
await b.connector.disconnect();
process.exit(0);
