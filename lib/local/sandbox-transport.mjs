/**
 * The in-process transport of a local Lambda sandbox (lambda-worker.mjs installs it before the
 * bundle is imported): `http.request` to one of the local runtime's own endpoints (the origins in
 * workerData.localOrigins: the DynamoDB, S3 and SQS fronts, the Step Functions and Lambda
 * endpoints) is carried to the runtime's main thread as a message instead of over a loopback TCP
 * socket; every other request (another host, `https`, `http.get`, `fetch`) is left alone.
 *
 * What goes over is what the wire would carry: the method, the path exactly as given (the SigV4
 * signature covers it), the headers as the server would read them (names lowercased, `host`,
 * `content-length` as Node's client adds them) and the body bytes the SDK signed. The main thread
 * authenticates and authorizes it as over TCP (lib/local/transport.ts); no identity is sent but
 * the signature. The answer comes back whole: { status, headers, body }.
 *
 * The stand-ins carry what @smithy/node-http-handler uses of ClientRequest and IncomingMessage
 * (its dist-es node-http-handler.js and set-*-timeout.js): `request(options, onResponse)`, a
 * Writable request (`end(body)`, `pipe()` into it), 'socket' (a socket that is already connected:
 * `connecting` false, `setTimeout(ms, onTimeout)` fired after ms without an answer,
 * `setKeepAlive`, `destroy`), 'continue' for `Expect: 100-continue` (Node's server sends it
 * unasked), 'response' with a Readable IncomingMessage (`statusCode`, `statusMessage`, `headers`,
 * `complete`), 'error' (ECONNRESET "socket hang up" when destroyed before the answer, as Node's),
 * 'close' and `destroy(err)`, which also tells the main thread to drop the request (a long poll
 * stops there as when its socket closes).
 *
 * Messages: { type: 'http-request', id, method, origin, path, headers, body } and
 * { type: 'http-abort', id } to the parent; { type: 'http-response', id, status, headers, body }
 * or { type: 'http-error', id, code, message } from it.
 */
import { EventEmitter } from 'node:events';
import http, { STATUS_CODES } from 'node:http';
import { syncBuiltinESMExports } from 'node:module';
import { Readable, Writable } from 'node:stream';
import { URL } from 'node:url';

/** Installs the transport for `origins` (e.g. http://127.0.0.1:4567), talking over `port`. */
export function installLocalTransport(port, origins) {
  const local = new Set(origins);
  if (local.size === 0) return;
  const pending = new Map();
  let nextId = 1;
  port.on('message', (msg) => {
    if (msg?.type !== 'http-response' && msg?.type !== 'http-error') return;
    const req = pending.get(msg.id);
    pending.delete(msg.id);
    req?._answer(msg);
  });

  const original = http.request;
  http.request = function request(...args) {
    const target = targetOf(args);
    if (!target || !local.has(target.origin)) return original.apply(this, args);
    const req = new LocalClientRequest(target, args, (r) => {
      const id = nextId++;
      pending.set(id, r);
      return id;
    });
    req._post = (msg) => port.postMessage(msg);
    req._forget = (id) => pending.delete(id);
    return req;
  };
  // An ESM `import { request } from 'node:http'` sees the patched export too.
  syncBuiltinESMExports();
}

/** The origin and options of an `http.request(url?, options?, callback?)` call, if it is plain http. */
function targetOf(args) {
  let url;
  let options = {};
  let i = 0;
  if (typeof args[0] === 'string' || args[0] instanceof URL) {
    try {
      url = new URL(String(args[0]));
    } catch {
      return undefined;
    }
    i = 1;
  }
  if (args[i] && typeof args[i] === 'object') options = args[i];
  const callback = args.find((a) => typeof a === 'function');
  const protocol = options.protocol ?? url?.protocol ?? 'http:';
  if (protocol !== 'http:' || options.socketPath || options.createConnection) return undefined;
  if (
    options.headers !== undefined &&
    (typeof options.headers !== 'object' || Array.isArray(options.headers))
  )
    return undefined;
  let host = options.hostname ?? options.host ?? url?.hostname ?? 'localhost';
  if (typeof host !== 'string') return undefined;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const port = Number(options.port ?? url?.port ?? 80) || 80;
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const path = options.path ?? (url ? `${url.pathname}${url.search}` : '/');
  return {
    origin,
    host,
    port,
    path,
    method: String(options.method ?? 'GET').toUpperCase(),
    headers: options.headers ?? {},
    callback,
  };
}

/** A connected socket as far as the SDK looks: timeouts and keep-alive, nothing on the wire. */
class LocalSocket extends EventEmitter {
  connecting = false;
  destroyed = false;
  timeoutMs = 0;
  timer = undefined;
  setTimeout(ms, onTimeout) {
    this.timeoutMs = ms;
    if (onTimeout) {
      if (ms) this.once('timeout', onTimeout);
      else this.removeListener('timeout', onTimeout);
    }
    this._arm();
    return this;
  }
  _arm() {
    clearTimeout(this.timer);
    this.timer =
      this.timeoutMs && !this.destroyed ? setTimeout(() => this.emit('timeout'), this.timeoutMs) : undefined;
    this.timer?.unref?.();
  }
  setKeepAlive() {
    return this;
  }
  setNoDelay() {
    return this;
  }
  ref() {
    return this;
  }
  unref() {
    return this;
  }
  destroy(err) {
    if (this.destroyed) return this;
    this.destroyed = true;
    clearTimeout(this.timer);
    this.emit('_destroy', err);
    return this;
  }
}

class LocalClientRequest extends Writable {
  constructor(target, args, register) {
    super({ autoDestroy: false, emitClose: false, decodeStrings: true });
    this.target = target;
    this.method = target.method;
    this.path = target.path;
    this.host = target.host;
    this.protocol = 'http:';
    this.socket = null;
    this.res = null;
    this.aborted = false;
    this.reusedSocket = false;
    this.headersSent = false;
    this._headers = {};
    for (const [k, v] of Object.entries(target.headers)) {
      if (v !== undefined) this._headers[k.toLowerCase()] = v;
    }
    this._chunks = [];
    this._streamed = false;
    this._register = register;
    this._id = undefined;
    this._done = false;
    this._closeEmitted = false;
    if (target.callback) this.once('response', target.callback);
    void args;
    // As Node's agent does, the socket comes on a later tick; it is connected at once.
    process.nextTick(() => {
      if (this._done) return;
      const socket = new LocalSocket();
      socket.on('_destroy', (err) => this.destroy(err));
      this.socket = socket;
      this.connection = socket;
      this.emit('socket', socket);
      if (String(this._headers.expect ?? '').toLowerCase() === '100-continue') this.emit('continue');
    });
  }

  setHeader(name, value) {
    this._headers[String(name).toLowerCase()] = value;
    return this;
  }
  getHeader(name) {
    return this._headers[String(name).toLowerCase()];
  }
  removeHeader(name) {
    delete this._headers[String(name).toLowerCase()];
  }
  getHeaders() {
    return { ...this._headers };
  }
  flushHeaders() {}
  setNoDelay() {}
  setSocketKeepAlive() {}
  setTimeout(ms, onTimeout) {
    if (onTimeout) this.once('timeout', onTimeout);
    const arm = (socket) => socket.setTimeout(ms, () => this.emit('timeout'));
    if (this.socket) arm(this.socket);
    else this.once('socket', arm);
    return this;
  }
  abort() {
    if (this.aborted) return;
    this.aborted = true;
    process.nextTick(() => this.emit('abort'));
    this.destroy();
  }

  write(chunk, encoding, cb) {
    // More than one write before end(): Node's client would send the body chunked.
    this._streamed = true;
    return super.write(chunk, encoding, cb);
  }

  _write(chunk, _encoding, callback) {
    this._chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    callback();
  }

  _final(callback) {
    callback();
    if (this._done) return;
    const body = Buffer.concat(this._chunks);
    this._chunks = [];
    const headers = {};
    // A repeated header is one line each on the wire; Node's server joins them with ', '.
    for (const [k, v] of Object.entries(this._headers))
      headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
    // What Node's client adds to the request line and headers the server reads.
    headers.host ??=
      this.target.port === 80 ? this.target.host : `${hostForHeader(this.target.host)}:${this.target.port}`;
    if (headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) {
      if (this._streamed) headers['transfer-encoding'] = 'chunked';
      else if (
        body.length > 0 ||
        !['GET', 'HEAD', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'].includes(this.method)
      )
        headers['content-length'] = String(body.length);
    }
    headers.connection ??= 'keep-alive';
    this.headersSent = true;
    this._id = this._register(this);
    this._post({
      type: 'http-request',
      id: this._id,
      method: this.method,
      origin: this.target.origin,
      path: this.path,
      headers,
      body,
    });
  }

  /** The main thread's answer (or its failure to answer). */
  _answer(msg) {
    if (this._done) return;
    if (msg.type === 'http-error') {
      this._fail(connectionError(msg.code ?? 'ECONNRESET', msg.message ?? 'socket hang up'));
      return;
    }
    // The answer is in whole: no inactivity is left to time out (the socket is idle, as Node's).
    if (this.socket) {
      this.socket.timeoutMs = 0;
      this.socket._arm();
    }
    const res = new Readable({ read() {} });
    res.statusCode = msg.status;
    res.statusMessage = STATUS_CODES[msg.status] ?? 'unknown';
    res.httpVersion = '1.1';
    res.httpVersionMajor = 1;
    res.httpVersionMinor = 1;
    res.headers = msg.headers;
    res.rawHeaders = Object.entries(msg.headers).flatMap(([k, v]) =>
      Array.isArray(v) ? v.flatMap((x) => [k, x]) : [k, v],
    );
    res.trailers = {};
    res.rawTrailers = [];
    res.aborted = false;
    // The whole message is in: Node sets `complete` once its parser has read it all.
    res.complete = true;
    res.socket = this.socket;
    res.connection = this.socket;
    res.req = this;
    res.setTimeout = (ms, cb) => {
      this.socket?.setTimeout(ms, cb);
      return res;
    };
    this.res = res;
    const body = Buffer.from(msg.body.buffer, msg.body.byteOffset, msg.body.byteLength);
    if (body.length > 0 && this.method !== 'HEAD') res.push(body);
    res.push(null);
    res.once('end', () => {
      this._done = true;
      clearTimeout(this.socket?.timer);
      this._emitClose();
    });
    this.emit('response', res);
  }

  _fail(err) {
    if (this._done) return;
    this._done = true;
    clearTimeout(this.socket?.timer);
    process.nextTick(() => this.emit('error', err));
    this._emitClose();
  }

  _emitClose() {
    if (this._closeEmitted) return;
    this._closeEmitted = true;
    process.nextTick(() => this.emit('close'));
  }

  _destroy(err, callback) {
    if (!this._done) {
      if (!this.res) {
        if (this._id !== undefined) {
          this._forget(this._id);
          this._post({ type: 'http-abort', id: this._id });
        }
        this._fail(err ?? connectionError('ECONNRESET', 'socket hang up'));
      } else {
        // The whole answer is already in (`complete`): as in Node, a socket closed now leaves it be.
        this._done = true;
        this._emitClose();
      }
    }
    callback();
  }
}

function hostForHeader(host) {
  return host.includes(':') ? `[${host}]` : host;
}

function connectionError(code, message) {
  return Object.assign(new Error(message), { code });
}
