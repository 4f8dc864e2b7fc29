/**
 * One local Lambda sandbox: a worker thread that loads a function's esbuild bundle (the file
 * `cdk synth` wrote into the cloud assembly) and runs its handler, one invocation at a time.
 * Plain JavaScript on purpose: no TypeScript loader runs here, as none runs in Lambda. Its
 * process.env is the function's environment only (the parent passes it as the Worker's `env`).
 *
 * workerData: { file, exportName, compileCacheDir?, localOrigins? }. With `localOrigins` (the local
 * runtime's own endpoints), requests to them go to the parent as messages (sandbox-transport.mjs),
 * installed before the bundle is imported. Messages from the parent: { type: 'invoke', id, event
 * (JSON text), context }. Answers: { type: 'result', id, ok: true, payload (JSON text) } or
 * { type: 'result', id, ok: false, errorType, errorMessage, trace, fatal } (`fatal`: the sandbox
 * failed to initialize and must be replaced). Each result also carries `cpuMicros`: the CPU time
 * this thread spent on the invocation (its thread clock, not wall time; the cold start's import
 * is the first invocation's), what `npm run bench` adds up per function.
 */

import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { installLocalTransport } from './sandbox-transport.mjs';

const { file, exportName, localOrigins } = workerData;

if (Array.isArray(localOrigins)) installLocalTransport(parentPort, localOrigins);

/** The Lambda runtime's error for an init failure, as AWS reports it. */
function initFailure(err) {
  const code = err && typeof err === 'object' ? err.code : undefined;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND')
    return { errorType: 'Runtime.ImportModuleError', errorMessage: `Error: ${err.message}` };
  return describe(err);
}

function describe(err) {
  if (err instanceof Error) {
    return {
      errorType: err.name || 'Error',
      errorMessage: err.message,
      trace: String(err.stack ?? '').split('\n'),
    };
  }
  return { errorType: 'Error', errorMessage: String(err) };
}

// Init: the module is loaded once per sandbox (its cold start), before the first invocation.
const init = import(pathToFileURL(file).href).then(
  (mod) => {
    const handler = mod[exportName];
    if (typeof handler !== 'function') {
      const name =
        file
          .split('/')
          .at(-1)
          ?.replace(/\.m?js$/, '') ?? 'index';
      return {
        failure: {
          errorType: 'Runtime.HandlerNotFound',
          errorMessage: `${name}.${exportName} is undefined or not exported`,
        },
      };
    }
    return { handler };
  },
  (err) => ({ failure: initFailure(err) }),
);

function contextOf(c) {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: c.functionName,
    functionVersion: c.functionVersion,
    invokedFunctionArn: c.invokedFunctionArn,
    memoryLimitInMB: c.memoryLimitInMB,
    awsRequestId: c.awsRequestId,
    logGroupName: c.logGroupName,
    logStreamName: c.logStreamName,
    getRemainingTimeInMillis: () => Math.max(0, c.deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** This thread's CPU time since `from` (process.threadCpuUsage: user and system), in microseconds. */
function cpuSince(from) {
  const { user, system } = process.threadCpuUsage(from);
  return user + system;
}

// The thread's CPU before the first invocation is its start and import: the cold start's.
let idleFrom = { user: 0, system: 0 };
parentPort.on('message', async (msg) => {
  if (msg?.type !== 'invoke') return;
  const { id } = msg;
  const from = idleFrom;
  const loaded = await init;
  const answer = (reply) => {
    parentPort.postMessage({ ...reply, cpuMicros: cpuSince(from) });
    idleFrom = process.threadCpuUsage();
  };
  if (loaded.failure) {
    answer({ type: 'result', id, ok: false, fatal: true, ...loaded.failure });
    return;
  }
  try {
    const result = await loaded.handler(JSON.parse(msg.event), contextOf(msg.context));
    answer({ type: 'result', id, ok: true, payload: JSON.stringify(result ?? null) });
  } catch (err) {
    answer({ type: 'result', id, ok: false, fatal: false, ...describe(err) });
  }
});

// As in the Lambda runtime, an unhandled rejection ends the sandbox (the parent sees the exit).
process.on('unhandledRejection', (reason) => {
  parentPort.postMessage({
    type: 'crash',
    errorType: 'Runtime.UnhandledPromiseRejection',
    errorMessage: String(reason),
  });
  process.exit(128);
});
