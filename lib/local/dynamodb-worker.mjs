/**
 * The local DynamoDB in a worker thread of its own: dynalite on LevelDB, off the thread where the
 * local Step Functions, the API shim and the IAM fronts run, so that the two cores share the
 * emulators' work. Plain JavaScript (like lambda-worker.mjs): no TypeScript loader runs here.
 *
 * workerData: { path, host, port }. It listens on host:port (0: any) for direct HTTP clients and
 * answers { type: 'ready', url } (or { type: 'failed', message }). Requests the IAM front has
 * already read and authorized come as { type: 'request', id, method, url, headers, body } and are
 * answered { type: 'response', id, status, headers, body } (or { type: 'response', id, error })
 * by dynalite's own request handler, with stand-ins for the request and response objects: dynalite
 * reads `method`, `url`, `headers` and the body's 'data'/'end' events, and answers through
 * `statusCode`, `setHeader` and `end` (dynalite/index.js httpHandler and sendData). On
 * { type: 'close' } it closes dynalite (which waits for pending LevelDB writes and closes the
 * database) and answers { type: 'closed' }. { type: 'cpu' } is answered { type: 'cpu', micros }: the
 * CPU time this thread has used so far (its own clock; LevelDB's background work runs on libuv's
 * threads, not this one).
 */
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const dynalite = require('dynalite');

// No provisioning delays: the CREATING/UPDATING/DELETING timers run at 0 ms.
const server = dynalite({ path: workerData.path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
const listener = server.listeners('request')[0];

function dispatch(msg) {
  const req = Object.assign(new EventEmitter(), { method: msg.method, url: msg.url, headers: msg.headers });
  const headers = {};
  const res = {
    statusCode: 200,
    contentType: undefined,
    setHeader(name, value) {
      headers[name.toLowerCase()] = value;
    },
    getHeader: (name) => headers[name.toLowerCase()],
    end(body) {
      delete headers['transfer-encoding'];
      const bytes = Buffer.from(body ?? '');
      parentPort.postMessage({ type: 'response', id: msg.id, status: res.statusCode, headers, body: bytes });
    },
  };
  try {
    listener(req, res);
    if (msg.body.byteLength) req.emit('data', Buffer.from(msg.body));
    req.emit('end');
  } catch (err) {
    parentPort.postMessage({ type: 'response', id: msg.id, error: String(err?.stack ?? err) });
  }
}

parentPort.on('message', (msg) => {
  if (msg.type === 'request') dispatch(msg);
  else if (msg.type === 'cpu') {
    const { user, system } = process.threadCpuUsage();
    parentPort.postMessage({ type: 'cpu', micros: user + system });
  } else if (msg.type === 'close') {
    server.close(() => parentPort.postMessage({ type: 'closed' }));
    server.closeAllConnections?.();
  }
});

server.once('error', (err) =>
  parentPort.postMessage({ type: 'failed', message: String(err?.message ?? err) }),
);
server.listen(workerData.port, workerData.host, () => {
  const { address, port } = server.address();
  const host =
    address === '0.0.0.0'
      ? '127.0.0.1'
      : address === '::'
        ? '[::1]'
        : address.includes(':')
          ? `[${address}]`
          : address;
  parentPort.postMessage({ type: 'ready', url: `http://${host}:${port}` });
});
