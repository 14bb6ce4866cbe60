// Import (or --import) this before loading any @sqlrooms module.
// 1. Registers resolve-hook.mjs so bundler-style relative imports resolve in Node.
// 2. Node 20 has no global WebSocket: provide the `ws` implementation.
import {register} from 'node:module';
import {WebSocket} from 'ws';

register('./resolve-hook.mjs', import.meta.url);

if (typeof globalThis.WebSocket === 'undefined') {
  globalThis.WebSocket = WebSocket;
}
