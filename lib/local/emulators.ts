/**
 * Local AWS emulators for `npm start`: DynamoDB (dynalite, LevelDB), S3 (s3rver, files) and
 * SQS (local-aws-sqs, in memory + the journal below), each on its own HTTP port, all state
 * under one data directory. The Lambdas reach them through `AWS_ENDPOINT_URL_<SERVICE>`
 * (see `sdkEnvironment`), so no adapter knows it runs locally.
 *
 * Where this module relies on package internals (the packages are pinned to exact versions in
 * package.json; test/unit/local-emulator-internals.test.ts checks the pins, the shape of each
 * internal and what each patch fixes):
 * - dynalite: its `level` dependency and LevelDB key layout (`table~`, `item-<table>~`, ...), to
 *   finish table transitions a stopped process left CREATING/UPDATING/DELETING.
 * - local-aws-sqs: the `service` of `createRequestHandler` (Queues, HOSTNAME/PORT,
 *   validateDlqDestination, resetAll) and each queue's setRecord/receive/delete/clearRecords,
 *   wrapped by SqsJournal for durability and for long polls that answer as soon as a message is
 *   there; its receipt handle format (the message id inside).
 * - s3rver: only its documented `callback()`.
 * Nothing here is module-level state: every `startEmulators` call has its own.
 *
 * With `iam` (what the local runtime passes), each emulator sits behind an authorizing front
 * (lib/local/iam/front.ts): the endpoint URLs are the fronts', which verify each request's SigV4
 * signature, check its IAM calls against the caller's role policies and answer a refusal in the
 * service's AWS error shape; the emulators themselves listen on loopback ports of their own.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type RequestListener, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { isIPv6 } from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createRequestHandler } from 'local-aws-sqs';
import { BatonError, ErrorNames } from '../../lambdas/core/errors.js';
import {
  authorizingFront,
  createFrontServer,
  type FrontHandler,
  type InProcessDispatch,
  type InProcessResponse,
} from './iam/front.js';
import type { LocalIam } from './iam/local-iam.js';

export type EmulatedService = 'dynamodb' | 's3' | 'sqs';

export interface Emulators {
  /** Endpoint URLs, always with an IP literal host (S3 then needs no path-style option). */
  readonly dynamodb: string;
  readonly s3: string;
  readonly sqs: string;
  /**
   * With `iam`: each front's handler, what its HTTP server at the endpoint URL answers (the
   * sandboxes' in-process transport calls it), and the TCP connections each front has accepted.
   */
  readonly fronts?: Record<EmulatedService, { handle: FrontHandler; connections(): number }>;
  /**
   * CPU time the emulators' own threads have used so far, ms: the DynamoDB worker's (s3rver,
   * local-aws-sqs and the IAM fronts run on the runtime's main thread).
   */
  threadCpuMs(): Promise<{ dynamodb: number }>;
  /** Stops the three servers and flushes SQS state; safe to call more than once. */
  close(): Promise<void>;
}

export interface StartEmulatorsOptions {
  /** Everything lives here: `dynamodb/` (LevelDB), `s3/` (files), `sqs/` (snapshot + journal). */
  dataDir: string;
  /** Address to bind; default 127.0.0.1. */
  host?: string;
  /** 0 or missing = ephemeral. Fix them when queue URLs are stored across restarts. */
  ports?: { dynamodb?: number; s3?: number; sqs?: number };
  /**
   * Local IAM: every request must be SigV4-signed by one of its identities (verified) and is
   * checked against that identity's policies. Without it the emulators accept any request.
   */
  iam?: LocalIam;
  /**
   * How often a waiting SQS long poll looks at its queue when nothing woke it, ms (default
   * 1,000): a backstop. A send, a visibility timeout or delay running out, and the client going
   * wake it at once. Tests set it beyond their waits to see that the wake-ups alone suffice.
   */
  sqsRecheckMs?: number;
}

export class EmulatorError extends BatonError {
  readonly service: EmulatedService;
  constructor(service: EmulatedService, message: string, options?: { cause?: unknown }) {
    super(`${service} emulator: ${message}`, options);
    this.name = ErrorNames.EmulatorError;
    this.service = service;
  }
}

/** The region every emulator reports (ARNs, queue URLs) and the SDK is pointed at. */
export const LOCAL_REGION = 'us-east-1';
/** The account in emulated ARNs and queue URLs: dynalite's default, and lib/local/template.ts's. */
export const LOCAL_ACCOUNT_ID = '000000000000';
/**
 * s3rver only accepts requests signed with this key pair; dynalite and SQS accept any. It is also
 * local IAM's admin identity (the runtime's own process), which is authenticated but never checked.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

/**
 * Environment that points SDK v3 clients created with no options at the emulators.
 *
 * - The endpoint URLs use an IP literal: the S3 endpoint rules then choose path-style
 *   addressing by themselves, so `new S3Client({})` works (with a host name such as
 *   `localhost` the SDK would call `<bucket>.localhost` unless `forcePathStyle: true`).
 * - `AWS_REQUEST_CHECKSUM_CALCULATION=WHEN_REQUIRED`: since SDK 3.729 a stream body is sent
 *   `aws-chunked` with a trailing CRC32; s3rver does not decode that framing and stores it
 *   as the object's bytes.
 */
export function sdkEnvironment(e: Emulators): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_DYNAMODB: e.dynamodb,
    AWS_ENDPOINT_URL_S3: e.s3,
    AWS_ENDPOINT_URL_SQS: e.sqs,
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
  };
}

export async function startEmulators(opts: StartEmulatorsOptions): Promise<Emulators> {
  const host = opts.host ?? '127.0.0.1';
  const dirs = {
    dynamodb: join(opts.dataDir, 'dynamodb'),
    s3: join(opts.dataDir, 's3'),
    sqs: join(opts.dataDir, 'sqs'),
  };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });

  const started: RunningServer[] = [];
  try {
    // DynamoDB first: its LevelDB LOCK doubles as the lock on the whole data directory.
    const { iam } = opts;
    const port = (service: EmulatedService) => (iam ? 0 : (opts.ports?.[service] ?? 0));
    const front = async (server: RunningServer & { advertise?: (url: string) => void }) => {
      if (!iam) return server;
      const fronted = await startFront(server, iam, host, opts.ports?.[server.service] ?? 0);
      server.advertise?.(fronted.url);
      return fronted;
    };
    started.push(await front(await startDynamoDb(dirs.dynamodb, host, port('dynamodb'))));
    started.push(await front(await startS3(dirs.s3, host, port('s3'))));
    started.push(await front(await startSqs(dirs.sqs, host, port('sqs'), opts.sqsRecheckMs ?? RECHECK_MS)));
  } catch (err) {
    await Promise.allSettled(started.map((s) => s.close()));
    throw err;
  }
  const [dynamodb, s3, sqs] = started as [RunningServer, RunningServer, RunningServer];
  let closing: Promise<void> | undefined;
  const fronts =
    dynamodb.front && s3.front && sqs.front
      ? { dynamodb: dynamodb.front, s3: s3.front, sqs: sqs.front }
      : undefined;
  return {
    dynamodb: dynamodb.url,
    s3: s3.url,
    sqs: sqs.url,
    ...(fronts ? { fronts } : {}),
    threadCpuMs: async () => ({ dynamodb: (await dynamodb.threadCpuMs?.()) ?? 0 }),
    close() {
      closing ??= closeAll(started);
      return closing;
    },
  };
}

interface RunningServer {
  service: EmulatedService;
  url: string;
  close(): Promise<void>;
  /** The emulator's request handler, called in process by its front (no second HTTP hop). */
  dispatch?: InProcessDispatch;
  /** A front's: its handler and the TCP connections its server has accepted. */
  front?: { handle: FrontHandler; connections(): number };
  /** An emulator in a thread of its own: that thread's CPU time so far, ms. */
  threadCpuMs?: () => Promise<number>;
}

async function closeAll(servers: RunningServer[]): Promise<void> {
  // The emulators' own timers are unref'd: without a ref'd handle a script whose last act is
  // `await close()` would exit before the SQS snapshot is written.
  const keepAlive = setInterval(() => {}, 1000);
  const results = await Promise.allSettled(servers.map((s) => s.close())).finally(() =>
    clearInterval(keepAlive),
  );
  const reasons = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
  if (reasons.length === 1) throw reasons[0];
  if (reasons.length > 1) throw new AggregateError(reasons, `${reasons.length} emulators failed to close`);
}

/** The authorizing front of a running emulator: its URL is the endpoint; closing it closes both. */
async function startFront(
  backend: RunningServer,
  iam: LocalIam,
  host: string,
  port: number,
): Promise<RunningServer> {
  const handle = authorizingFront(backend.service, iam, () => backend.url, backend.dispatch);
  const server = createFrontServer(handle);
  let connections = 0;
  server.on('connection', () => {
    connections += 1;
  });
  try {
    const url = await listen(server, backend.service, host, port);
    return {
      service: backend.service,
      url,
      front: { handle, connections: () => connections },
      ...(backend.threadCpuMs ? { threadCpuMs: backend.threadCpuMs } : {}),
      close: async () => {
        // Forced: a long poll through the front would otherwise hold close() for its wait.
        await closeServer(server, backend.service, { force: true });
        await backend.close();
      },
    };
  } catch (err) {
    await backend.close();
    throw err;
  }
}

function listen(server: Server, service: EmulatedService, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) =>
      reject(new EmulatorError(service, `cannot listen on ${host}:${port}`, { cause: err }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address() as AddressInfo;
      resolve(`http://${urlHost(address.address)}:${address.port}`);
    });
  });
}

/** The host to put in URLs: wildcard binds are reached over loopback. */
function urlHost(boundAddress: string): string {
  if (boundAddress === '0.0.0.0') return '127.0.0.1';
  if (boundAddress === '::') return '[::1]';
  return isIPv6(boundAddress) ? `[${boundAddress}]` : boundAddress;
}

function closeServer(server: Server, service: EmulatedService, { force }: { force: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) =>
      err ? reject(new EmulatorError(service, 'close failed', { cause: err })) : resolve(),
    );
    if (force) server.closeAllConnections();
  });
}

// ---------------------------------------------------------------------------------------------
// DynamoDB: dynalite on LevelDB. LevelDB write()s every change to its log before dynalite
// answers (no fsync: a kill -9 loses nothing, a power cut may); the LOCK file left behind is an
// fcntl lock that dies with the process and does not block the next start.

interface LevelDatabase {
  open(): Promise<void>;
  close(): Promise<void>;
  iterator(range: { gte: string; lt: string }): AsyncIterable<[string, unknown]>;
  put(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
  clear(range: { gte: string; lt: string }): Promise<void>;
}
type LevelConstructor = new (location: string, options: { valueEncoding: 'json' }) => LevelDatabase;

/** The part of dynalite's stored table description that its status timers change. */
interface DynaliteTable {
  TableName: string;
  TableStatus: string;
  GlobalSecondaryIndexes?: DynaliteIndex[];
  LocalSecondaryIndexes?: DynaliteIndex[];
}
interface DynaliteIndex {
  IndexName: string;
  IndexStatus?: string;
}
/** dynalite's own derivation of an item's index entries (dynalite/db/index.js). */
type IndexActions = (
  indexes: DynaliteIndex[],
  existingItem: undefined,
  item: unknown,
  table: DynaliteTable,
) => { puts: { index: string; key: string; item: unknown }[] };

const require = createRequire(import.meta.url);

async function startDynamoDb(dir: string, host: string, port: number): Promise<RunningServer> {
  // If dynalite cannot open LevelDB (another process holds the LOCK) it throws from inside its
  // request handler and kills the process; open it here first to fail cleanly instead.
  const { Level } = createRequire(require.resolve('dynalite'))('level') as { Level: LevelConstructor };
  const db = new Level(dir, { valueEncoding: 'json' });
  try {
    await db.open();
  } catch (err) {
    throw new EmulatorError(
      'dynamodb',
      `cannot open ${dir} (is another local runtime using this data directory?)`,
      { cause: err },
    );
  }
  try {
    await settleTableTransitions(db);
    await rebuildIndexes(db);
  } finally {
    await db.close();
  }

  // dynalite opens LevelDB as it is created, and if its listen() then fails, its close()
  // returns early without closing the database: check a fixed port before creating it.
  if (port !== 0) {
    const portProbe = createServer();
    await listen(portProbe, 'dynamodb', host, port);
    await closeServer(portProbe, 'dynamodb', { force: true });
  }
  return startDynamoDbWorker(dir, host, port);
}

const DYNAMODB_WORKER = new URL('./dynamodb-worker.mjs', import.meta.url);

/**
 * dynalite in a worker thread of its own (dynamodb-worker.mjs), so its work (and LevelDB's) runs
 * beside the local Step Functions and the IAM fronts instead of on their thread. The front hands
 * it each authorized request as a message: the same bytes in and out, without a second HTTP hop.
 */
async function startDynamoDbWorker(dir: string, host: string, port: number): Promise<RunningServer> {
  const worker = new Worker(DYNAMODB_WORKER, { workerData: { path: dir, host, port }, execArgv: [] });
  const pending = new Map<number, { resolve: (r: InProcessResponse) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let closed: (() => void) | undefined;
  let failure: Error | undefined;
  /** Who waits for the worker's answers to `cpu` (answered in order); 0 for them once it has exited. */
  const cpuWaiters: ((micros: number) => void)[] = [];
  let stopped = false;
  worker.once('exit', () => {
    stopped = true;
    for (const waiter of cpuWaiters.splice(0)) waiter(0);
  });
  const url = await new Promise<string>((resolve, reject) => {
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'ready') resolve(msg.url);
      else if (msg.type === 'failed') {
        reject(new EmulatorError('dynamodb', `cannot listen on ${host}:${port}: ${msg.message}`));
        void worker.terminate();
      } else if (msg.type === 'closed') closed?.();
      else if (msg.type === 'cpu') cpuWaiters.shift()?.(msg.micros);
      else if (msg.type === 'response') {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (!p) return;
        if ('error' in msg) p.reject(new EmulatorError('dynamodb', msg.error));
        else p.resolve({ status: msg.status, headers: msg.headers, body: Buffer.from(msg.body) });
      }
    });
    worker.on('error', (err) => {
      failure = new EmulatorError('dynamodb', 'the DynamoDB worker failed', { cause: err });
      reject(failure);
      for (const p of pending.values()) p.reject(failure);
      pending.clear();
    });
  });
  return {
    service: 'dynamodb',
    url,
    dispatch: (r) =>
      new Promise((resolve, reject) => {
        if (failure) return reject(failure);
        const id = nextId++;
        pending.set(id, { resolve, reject });
        worker.postMessage({ type: 'request', id, ...r });
      }),
    threadCpuMs: () =>
      failure || stopped
        ? Promise.resolve(0)
        : new Promise<number>((resolve) => {
            cpuWaiters.push((micros) => resolve(micros / 1000));
            worker.postMessage({ type: 'cpu' });
          }),
    // dynalite's close() waits for pending LevelDB operations and closes the database.
    close: async () => {
      if (!failure)
        await new Promise<void>((resolve) => {
          closed = resolve;
          worker.postMessage({ type: 'close' });
        });
      await worker.terminate();
    },
  };
}

type WorkerMessage =
  | { type: 'ready'; url: string }
  | { type: 'failed'; message: string }
  | { type: 'closed' }
  | { type: 'cpu'; micros: number }
  | { type: 'response'; id: number; status: number; headers: InProcessResponse['headers']; body: Uint8Array }
  | { type: 'response'; id: number; error: string };

/** dynalite's sub-databases are key prefixes ending in '~'; '\x7f' is the next byte. */
function prefixRange(prefix: string): { gte: string; lt: string } {
  return { gte: prefix, lt: `${prefix.slice(0, -1)}\x7f` };
}

/**
 * dynalite finishes CreateTable/UpdateTable/DeleteTable in a timer after it has answered; a
 * process stopped before that timer ran leaves the table CREATING/UPDATING/DELETING on disk for
 * good (unusable, and impossible to re-create). Finish those transitions the way the timers would.
 */
async function settleTableTransitions(db: LevelDatabase): Promise<void> {
  const unsettled: DynaliteTable[] = [];
  for await (const [, value] of db.iterator(prefixRange('table~'))) {
    const table = value as DynaliteTable;
    const indexes = table.GlobalSecondaryIndexes ?? [];
    if (table.TableStatus !== 'ACTIVE' || indexes.some((i) => i.IndexStatus !== 'ACTIVE'))
      unsettled.push(table);
  }
  for (const table of unsettled) {
    const name = table.TableName;
    if (table.TableStatus === 'DELETING') {
      for (const prefix of [
        `item-${name}~`,
        `tag-${name}~`,
        `index-local~${name}~`,
        `index-global~${name}~`,
      ]) {
        await db.clear(prefixRange(prefix));
      }
      await db.del(`table~${name}`);
      continue;
    }
    const indexes = table.GlobalSecondaryIndexes?.filter((i) => i.IndexStatus !== 'DELETING');
    await db.put(`table~${name}`, {
      ...table,
      TableStatus: 'ACTIVE',
      ...(indexes ? { GlobalSecondaryIndexes: indexes.map((i) => ({ ...i, IndexStatus: 'ACTIVE' })) } : {}),
    });
  }
}

/**
 * dynalite writes an item's index entries and then the item, one LevelDB write each, so a process
 * killed between them leaves an index entry the item no longer has: a task listed under two
 * statuses for good (DynamoDB's indexes converge on the item). Rebuild every index from the
 * items at start, with dynalite's own key derivation, so the indexes always match the items.
 */
async function rebuildIndexes(db: LevelDatabase): Promise<void> {
  const { getIndexActions } = createRequire(require.resolve('dynalite'))('./db/index.js') as {
    getIndexActions: IndexActions;
  };
  const tables: DynaliteTable[] = [];
  for await (const [, value] of db.iterator(prefixRange('table~'))) tables.push(value as DynaliteTable);
  for (const table of tables) {
    const kinds = [
      { kind: 'local', indexes: table.LocalSecondaryIndexes ?? [] },
      { kind: 'global', indexes: table.GlobalSecondaryIndexes ?? [] },
    ].filter((k) => k.indexes.length > 0);
    if (kinds.length === 0) continue;
    for (const { kind, indexes } of kinds)
      for (const index of indexes)
        await db.clear(prefixRange(`index-${kind}~${table.TableName}~${index.IndexName}~`));
    for await (const [, item] of db.iterator(prefixRange(`item-${table.TableName}~`))) {
      for (const { kind, indexes } of kinds)
        for (const put of getIndexActions(indexes, undefined, item, table).puts)
          await db.put(`index-${kind}~${table.TableName}~${put.index}~${put.key}`, put.item);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// S3: s3rver, one file per object plus metadata files. Its own run() leaves listen errors as an
// unhandled 'error' event, so it is mounted on a server of ours through its documented callback().

interface S3rverApp {
  callback(): RequestListener;
}
type S3rverConstructor = new (options: {
  directory: string;
  silent: boolean;
  resetOnClose: boolean;
  vhostBuckets: boolean;
}) => S3rverApp;

async function startS3(dir: string, host: string, port: number): Promise<RunningServer> {
  const S3rver = require('s3rver') as S3rverConstructor;
  const app = new S3rver({ directory: dir, silent: true, resetOnClose: false, vhostBuckets: false });
  const server = createServer(app.callback());
  const url = await listen(server, 's3', host, port);
  return { service: 's3', url, close: () => closeServer(server, 's3', { force: false }) };
}

// ---------------------------------------------------------------------------------------------
// SQS: local-aws-sqs keeps queues and messages in memory only. SqsJournal makes them durable:
// every change (queue definitions, sends, receives, deletes, dead-letter moves, purges) is
// appended to `journal.jsonl` synchronously, before the client sees the response, and
// replayed on start on top of `snapshot.json`.

type SqsService = ReturnType<typeof createRequestHandler>['service'];
type SqsQueue = SqsService['Queues'][number];

interface ReceiveParams {
  VisibilityTimeout?: unknown;
  WaitTimeSeconds?: unknown;
  MaxNumberOfMessages?: unknown;
}

/** The emulator's message record, as returned by Queue.setRecord/receive (shape checked). */
interface EmulatorRecord {
  MessageId: string;
  attributes: Record<string, string | undefined>;
}

interface StoredQueue {
  name: string;
  attributes: Record<string, string>;
  tags: Record<string, string>;
}

interface StoredMessage {
  id: string;
  queue: string;
  body: string;
  messageAttributes?: unknown;
  systemAttributes?: Record<string, { DataType: string; StringValue?: string; BinaryValue?: string }>;
  groupId?: string;
  deduplicationId?: string;
  sentAt: number;
  delaySeconds: number;
  receiveCount: number;
  firstReceivedAt?: number;
}

type ReceiveCounts = [id: string, count: number, firstReceivedAt: number | null][];
type JournalOp =
  | { op: 'queue'; queue: StoredQueue }
  | { op: 'dropQueue'; name: string }
  | { op: 'put'; message: StoredMessage }
  | { op: 'recv'; queue: string; counts: ReceiveCounts }
  | { op: 'del'; queue: string; id: string }
  | { op: 'clear'; queue: string };
type JournalEntry = JournalOp & { seq: number };

interface Snapshot {
  version: 1;
  seq: number;
  queues: StoredQueue[];
  messages: StoredMessage[];
}

/** Queue attributes that CreateQueue accepts; the rest of GetQueueAttributes is derived. */
const SETTABLE_QUEUE_ATTRIBUTES = [
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'Policy',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'RedrivePolicy',
  'RedriveAllowPolicy',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'SqsManagedSseEnabled',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
] as const;

const COMPACT_AFTER_ENTRIES = 10_000;
/** A long poll looks at its queue again at least this often, woken or not: a backstop (sqsRecheckMs). */
const RECHECK_MS = 1000;
/** How long after a visibility timeout or delay a long poll looks (the emulator's timer first). */
const CHANGE_SLACK_MS = 2;

/** Per-request state, so a long poll stops once its client has gone (poller stop, abort). */
type SqsRequests = AsyncLocalStorage<SqsRequest>;

interface SqsRequest {
  clientGone: boolean;
  /** Called once the client has gone: wakes the request's long poll (changeOf). */
  onGone?: () => void;
}

async function startSqs(
  dir: string,
  host: string,
  port: number,
  recheckMs: number,
): Promise<RunningServer & { advertise(url: string): void }> {
  const requests: SqsRequests = new AsyncLocalStorage();
  const journal = new SqsJournal(dir, requests, recheckMs);
  const state = journal.load();
  let handler: ReturnType<typeof createRequestHandler>;
  try {
    handler = createRequestHandler({
      port,
      hostname: host,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
      // Deleting and re-creating a queue locally should not make anyone wait 60 s.
      emulateQueueCreationLifecycle: false,
      // Restored queues arrive in creation order, which may precede their dead-letter queue.
      validateDlqDestination: false,
      queues: state.queues.map((q) => ({ QueueName: q.name, Attributes: q.attributes, tags: q.tags })),
    });
  } catch (err) {
    throw new EmulatorError('sqs', `cannot restore the queues saved in ${dir}; delete it to start empty`, {
      cause: err,
    });
  }
  const { service, requestHandler } = handler;
  service.validateDlqDestination = true;
  // Before listening: a request served before restore() would bypass the journal.
  journal.restore(service, state);

  const inFlight = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    const context: SqsRequest = { clientGone: false };
    res.on('close', () => {
      if (res.writableEnded) return;
      context.clientGone = true;
      context.onGone?.();
    });
    const end = res.end.bind(res) as (...args: unknown[]) => typeof res;
    if (!keepsQueueDefinitions(req.headers['x-amz-target'])) {
      res.end = ((...args: unknown[]) => {
        // Runs before the response leaves: a client never sees a change the journal lacks.
        journal.syncQueues(service);
        return end(...args);
      }) as typeof res.end;
    }
    const handled = requests.run(context, () =>
      requestHandler(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.statusCode = 500;
        end(JSON.stringify({ __type: 'InternalFailure', message: String(err) }));
      }),
    );
    inFlight.add(handled);
    void handled.finally(() => inFlight.delete(handled));
  });
  const url = await listen(server, 'sqs', host, port);
  // Queue URLs must have the endpoint's origin: the SDK sends requests to the QueueUrl's host.
  const advertise = (endpoint: string) => {
    const bound = new URL(endpoint);
    service.HOSTNAME = bound.hostname;
    service.PORT = Number(bound.port);
  };
  advertise(url);
  return {
    service: 'sqs',
    url,
    advertise,
    close: async () => {
      // Long polls would otherwise hold close() for up to 20 s; pollers retry anyway.
      await closeServer(server, 'sqs', { force: true });
      await Promise.allSettled(inFlight);
      journal.close();
      // Visibility and retention timers would go on moving messages in a dead emulator.
      service.resetAll();
    },
  };
}

/** Messages a receive could take now: not delayed, not in flight (the queue's own counts). */
/**
 * The actions that never change a queue's definition (attributes, tags, policy) nor the set of
 * queues, by the JSON protocol's X-Amz-Target: after them the queues need not be compared with
 * the journal (syncQueues reads every queue's attributes). Any other request, and one of the
 * query protocol (its action is in the body), is followed by the comparison.
 */
const MESSAGE_ACTIONS = new Set(
  [
    'SendMessage',
    'SendMessageBatch',
    'ReceiveMessage',
    'DeleteMessage',
    'DeleteMessageBatch',
    'ChangeMessageVisibility',
    'ChangeMessageVisibilityBatch',
    'GetQueueAttributes',
    'GetQueueUrl',
    'ListQueues',
    'ListQueueTags',
    'ListDeadLetterSourceQueues',
  ].map((action) => `AmazonSQS.${action}`),
);

function keepsQueueDefinitions(target: string | string[] | undefined): boolean {
  return typeof target === 'string' && MESSAGE_ACTIONS.has(target);
}

function visibleCount(queue: SqsQueue): number {
  const counts = queue.getAttributes([
    'ApproximateNumberOfMessages',
    'ApproximateNumberOfMessagesNotVisible',
  ]);
  return Math.max(
    0,
    Number(counts?.ApproximateNumberOfMessages ?? 0) -
      Number(counts?.ApproximateNumberOfMessagesNotVisible ?? 0),
  );
}

class SqsJournal {
  private readonly snapshotPath: string;
  private readonly journalPath: string;
  private readonly queues = new Map<string, StoredQueue>();
  private readonly messages = new Map<string, StoredMessage>();
  private readonly queueJson = new Map<string, string>();
  private readonly instrumented = new WeakSet<SqsQueue>();
  /** Long polls waiting for a queue to change, by queue name (changeOf). */
  private readonly waiters = new Map<string, Set<() => void>>();
  private seq = 0;
  private entriesSinceCompaction = 0;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly requests: SqsRequests,
    private readonly recheckMs: number,
  ) {
    this.snapshotPath = join(dir, 'snapshot.json');
    this.journalPath = join(dir, 'journal.jsonl');
  }

  /** Snapshot + journal, folded. */
  load(): { queues: StoredQueue[]; messages: StoredMessage[] } {
    if (existsSync(this.snapshotPath)) {
      const snapshot = this.parse<Snapshot>(readFileSync(this.snapshotPath, 'utf8'), this.snapshotPath);
      this.seq = snapshot.seq;
      for (const q of snapshot.queues) this.queues.set(q.name, q);
      for (const m of snapshot.messages) this.messages.set(m.id, m);
    }
    if (existsSync(this.journalPath)) {
      const lines = readFileSync(this.journalPath, 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (line === '') return;
        let entry: JournalEntry;
        try {
          entry = JSON.parse(line) as JournalEntry;
        } catch (err) {
          // Only the last line can be torn (the process died inside write()); it was never acknowledged.
          if (i === lines.length - 1) return;
          throw new EmulatorError(
            'sqs',
            `${this.journalPath}:${i + 1} is corrupt; delete ${this.dir} to start empty`,
            {
              cause: err,
            },
          );
        }
        if (entry.seq <= this.seq) return;
        this.seq = entry.seq;
        this.apply(entry);
      });
    }
    return { queues: [...this.queues.values()], messages: [...this.messages.values()] };
  }

  /** Puts the loaded messages back into the emulator's queues, then starts journaling. */
  restore(service: SqsService, state: { messages: StoredMessage[] }): void {
    this.messages.clear();
    const now = Date.now();
    for (const stored of state.messages) {
      const message = this.redriveIfExhausted(service, stored);
      const queue = service.Queues.find((q) => q.QueueName === message.queue);
      if (!queue) continue;
      if (message.sentAt + queue.MessageRetentionPeriod * 1000 <= now) continue;
      const remainingDelay = Math.max(
        0,
        Math.ceil((message.sentAt + message.delaySeconds * 1000 - now) / 1000),
      );
      const item: unknown = queue.setRecord(
        {
          MessageBody: message.body,
          MessageAttributes: message.messageAttributes,
          MessageSystemAttributes: message.systemAttributes,
          MessageGroupId: message.groupId,
          MessageDeduplicationId: message.deduplicationId,
          DelaySeconds: remainingDelay,
        },
        message.id,
      );
      const record = recordOf(item);
      if (record) {
        record.attributes.SentTimestamp = String(message.sentAt);
        record.attributes.ApproximateReceiveCount = String(message.receiveCount);
        if (message.firstReceivedAt !== undefined) {
          record.attributes.ApproximateFirstReceiveTimestamp = String(message.firstReceivedAt);
        }
      }
      this.messages.set(message.id, message);
    }
    this.syncQueues(service);
    this.compact();
  }

  /**
   * A message that was in flight at its last allowed receive when the process stopped would
   * have moved to the dead-letter queue when its visibility timeout ran out; do that now.
   */
  private redriveIfExhausted(service: SqsService, message: StoredMessage): StoredMessage {
    const source = service.Queues.find((q) => q.QueueName === message.queue);
    const policy = source?.RedrivePolicy;
    if (!source || !policy || message.receiveCount < Number(policy.maxReceiveCount)) return message;
    const target = policy.deadLetterTargetArn.split(':').at(-1);
    if (!target || !service.Queues.some((q) => q.QueueName === target)) return message;
    return {
      ...message,
      queue: target,
      receiveCount: 0,
      firstReceivedAt: undefined,
      systemAttributes: {
        ...message.systemAttributes,
        DeadLetterQueueSourceArn: {
          DataType: 'String',
          StringValue: `arn:aws:sqs:${service.REGION}:${service.ACCOUNT_ID}:${source.QueueName}`,
        },
      },
    };
  }

  /** Journals queue definitions that changed since the last call and instruments new queues. */
  syncQueues(service: SqsService): void {
    const live = new Set<string>();
    for (const queue of service.Queues) {
      live.add(queue.QueueName);
      this.instrument(queue);
      const definition = queueDefinition(queue);
      const json = JSON.stringify(definition);
      if (this.queueJson.get(queue.QueueName) === json) continue;
      this.queueJson.set(queue.QueueName, json);
      this.write({ op: 'queue', queue: definition });
    }
    for (const name of this.queueJson.keys()) {
      if (live.has(name)) continue;
      this.queueJson.delete(name);
      this.write({ op: 'dropQueue', name });
    }
  }

  private instrument(queue: SqsQueue): void {
    if (this.instrumented.has(queue)) return;
    this.instrumented.add(queue);
    const name = queue.QueueName;

    const setRecord = queue.setRecord;
    queue.setRecord = (input: Record<string, unknown>, messageId?: string) => {
      const item: unknown = setRecord(input, messageId);
      // Visible after its delay, counted once the emulator's timer for it has run (even for none).
      this.changeAfter(name, Number(input.DelaySeconds ?? queue.DelaySeconds) || 0);
      const record = recordOf(item);
      const existing = record ? this.messages.get(record.MessageId) : undefined;
      // Same id in the same queue without an explicit id: a FIFO deduplicated send.
      if (record && !(existing && existing.queue === name && messageId === undefined)) {
        this.write({ op: 'put', message: storedMessage(queue, input, record) });
      }
      return item;
    };

    const receive = queue.receive.bind(queue);
    queue.receive = async (params: ReceiveParams) => {
      // local-aws-sqs ends a receive early only once MaxNumberOfMessages are in hand (it looks
      // every 10 ms, and a zero-wait receive still takes 40 ms), so a batch of 10 waits the full
      // WaitTimeSeconds for 1 message. Real SQS answers as soon as it has any: wait (looking at
      // the queue's counts, in memory) until some are visible, then ask for at most that many,
      // which the emulator answers at its first look.
      const waitSeconds = Number(params.WaitTimeSeconds ?? queue.ReceiveMessageWaitTimeSeconds) || 0;
      const deadline = Date.now() + waitSeconds * 1000;
      const request = this.requests.getStore();
      const wanted = Number(params.MaxNumberOfMessages ?? 1) || 1;
      for (;;) {
        // A client that has gone would never delete what it was given: the messages would stay
        // invisible for their visibility timeout. Give it nothing.
        if (request?.clientGone) return [];
        const visible = visibleCount(queue);
        if (visible === 0 && Date.now() < deadline) {
          await this.changeOf(name, Math.min(this.recheckMs, deadline - Date.now()), request);
          continue;
        }
        const max = visible > 0 ? Math.min(visible, wanted) : wanted;
        const records: unknown[] = await receive({ ...params, MaxNumberOfMessages: max, WaitTimeSeconds: 0 });
        if (records.length > 0) {
          const counts: ReceiveCounts = [];
          for (const rec of records.map(recordOf)) {
            if (!rec) continue;
            const first = Number(rec.attributes.ApproximateFirstReceiveTimestamp) || null;
            counts.push([rec.MessageId, Number(rec.attributes.ApproximateReceiveCount), first]);
          }
          this.write({ op: 'recv', queue: name, counts });
          // They are visible again once their visibility timeout runs out (unless deleted first).
          const timeout = Number(params.VisibilityTimeout ?? queue.VisibilityTimeout);
          if (Number.isFinite(timeout)) this.changeAfter(name, timeout);
          return records;
        }
        if (Date.now() >= deadline) return records;
      }
    };

    const changeVisibility = queue.changeVisibility.bind(queue);
    queue.changeVisibility = (
      receiptHandle: string,
      seconds: Parameters<SqsQueue['changeVisibility']>[1],
    ) => {
      const changed = changeVisibility(receiptHandle, seconds);
      const timeout = Number(seconds);
      if (changed && Number.isFinite(timeout)) this.changeAfter(name, timeout);
      return changed;
    };

    const deleteMessage = queue.delete.bind(queue);
    queue.delete = (receiptHandle: string) => {
      const deleted = deleteMessage(receiptHandle);
      const id = messageIdOfReceiptHandle(receiptHandle);
      if (deleted && id && this.messages.get(id)?.queue === name) this.write({ op: 'del', queue: name, id });
      return deleted;
    };

    const clearRecords = queue.clearRecords.bind(queue);
    queue.clearRecords = () => {
      clearRecords();
      this.write({ op: 'clear', queue: name });
    };
  }

  /**
   * Resolves when `queue` may have a message visible that it had not (a send, a visibility
   * timeout or a delay running out), when the request's client goes, or after `ms` at the
   * latest. A long poll waits on this instead of looking at the queue every few milliseconds.
   */
  private changeOf(queue: string, ms: number, request: SqsRequest | undefined): Promise<void> {
    return new Promise((resolve) => {
      const waiters = this.waiters.get(queue) ?? new Set<() => void>();
      this.waiters.set(queue, waiters);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        if (waiters.size === 0) this.waiters.delete(queue);
        if (request) request.onGone = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      waiters.add(done);
      if (request) request.onGone = done;
    });
  }

  /** Wakes the long polls waiting on `queue`. */
  private changed(queue: string): void {
    for (const wake of [...(this.waiters.get(queue) ?? [])]) wake();
  }

  /** Wakes them once `seconds` have passed (just after the emulator's own timer for it). */
  private changeAfter(queue: string, seconds: number): void {
    setTimeout(() => this.changed(queue), Math.max(0, seconds * 1000) + CHANGE_SLACK_MS).unref();
  }

  /** Final snapshot; later changes (timers of the stopped emulator) are ignored. */
  close(): void {
    if (this.closed) return;
    this.compact();
    this.closed = true;
  }

  private write(op: JournalOp): void {
    if (this.closed) return;
    const entry = { ...op, seq: this.seq + 1 } as JournalEntry;
    try {
      appendFileSync(this.journalPath, `${JSON.stringify(entry)}\n`);
    } catch (err) {
      throw new EmulatorError('sqs', `cannot append to ${this.journalPath}`, { cause: err });
    }
    this.seq = entry.seq;
    this.apply(entry);
    if (++this.entriesSinceCompaction >= COMPACT_AFTER_ENTRIES) this.compact();
  }

  private apply(entry: JournalOp): void {
    switch (entry.op) {
      case 'queue':
        this.queues.set(entry.queue.name, entry.queue);
        return;
      case 'dropQueue':
        this.queues.delete(entry.name);
        for (const [id, m] of this.messages) if (m.queue === entry.name) this.messages.delete(id);
        return;
      case 'put':
        // A dead-letter move keeps the message id: re-insert so the queue order stays send order.
        this.messages.delete(entry.message.id);
        this.messages.set(entry.message.id, entry.message);
        return;
      case 'recv':
        for (const [id, count, firstReceivedAt] of entry.counts) {
          const m = this.messages.get(id);
          if (!m) continue;
          m.queue = entry.queue;
          m.receiveCount = count;
          if (firstReceivedAt !== null) m.firstReceivedAt = firstReceivedAt;
        }
        return;
      case 'del':
        if (this.messages.get(entry.id)?.queue === entry.queue) this.messages.delete(entry.id);
        return;
      case 'clear':
        for (const [id, m] of this.messages) if (m.queue === entry.queue) this.messages.delete(id);
        return;
    }
  }

  /** Writes the folded state atomically, then empties the journal it supersedes. */
  compact(): void {
    const snapshot: Snapshot = {
      version: 1,
      seq: this.seq,
      queues: [...this.queues.values()],
      messages: [...this.messages.values()],
    };
    const tmp = `${this.snapshotPath}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(snapshot));
      renameSync(tmp, this.snapshotPath);
      // Entries up to `seq` are in the snapshot; if we die before this, load() skips them.
      writeFileSync(this.journalPath, '');
    } catch (err) {
      throw new EmulatorError('sqs', `cannot write ${this.snapshotPath}`, { cause: err });
    }
    this.entriesSinceCompaction = 0;
  }

  private parse<T>(text: string, file: string): T {
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new EmulatorError('sqs', `${file} is corrupt; delete ${this.dir} to start empty`, { cause: err });
    }
  }
}

function queueDefinition(queue: SqsQueue): StoredQueue {
  const all = queue.getAttributes(['All']) as Record<string, string | undefined>;
  const attributes: Record<string, string> = {};
  for (const key of SETTABLE_QUEUE_ATTRIBUTES) {
    const value = all[key];
    if (value !== undefined) attributes[key] = value;
  }
  return { name: queue.QueueName, attributes, tags: { ...queue.Tags } };
}

function storedMessage(
  queue: SqsQueue,
  input: Record<string, unknown>,
  record: EmulatorRecord,
): StoredMessage {
  const delay = Number(input.DelaySeconds);
  return {
    id: record.MessageId,
    queue: queue.QueueName,
    body: String(input.MessageBody),
    messageAttributes: input.MessageAttributes ?? undefined,
    systemAttributes: (input.MessageSystemAttributes ?? undefined) as StoredMessage['systemAttributes'],
    groupId: typeof input.MessageGroupId === 'string' ? input.MessageGroupId : undefined,
    deduplicationId:
      typeof input.MessageDeduplicationId === 'string' ? input.MessageDeduplicationId : undefined,
    sentAt: Number(record.attributes.SentTimestamp) || Date.now(),
    delaySeconds: Number.isNaN(delay) ? queue.DelaySeconds : delay,
    receiveCount: 0,
  };
}

/** Accepts both the emulator's queue item `{ record }` and a bare record. */
function recordOf(value: unknown): EmulatorRecord | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const candidate = 'record' in value ? (value as { record: unknown }).record : value;
  if (typeof candidate !== 'object' || candidate === null) return undefined;
  const { MessageId, attributes } = candidate as Partial<EmulatorRecord>;
  if (typeof MessageId !== 'string' || typeof attributes !== 'object' || attributes === null)
    return undefined;
  return candidate as EmulatorRecord;
}

/** local-aws-sqs receipt handles are base64(uuid + JSON { date, MessageId, QueueName }). */
function messageIdOfReceiptHandle(receiptHandle: string): string | undefined {
  const decoded = Buffer.from(receiptHandle, 'base64').toString('utf8');
  try {
    const parsed = JSON.parse(decoded.slice(decoded.indexOf('{'))) as { MessageId?: unknown };
    return typeof parsed.MessageId === 'string' ? parsed.MessageId : undefined;
  } catch {
    return undefined;
  }
}
