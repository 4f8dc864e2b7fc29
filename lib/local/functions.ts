/**
 * Local Lambda functions: each function of the template runs its esbuild bundle in worker
 * threads of its own (lambda-worker.mjs), one sandbox per concurrent invocation, as Lambda runs
 * one execution environment per concurrent request:
 * - its own process.env: exactly its environment (from the template, plus the local endpoints),
 *   nothing of the runtime's or another function's;
 * - its own module state and cold start (a sandbox is reused warm, like Lambda's);
 * - its timeout: a sandbox still running at the deadline is terminated and replaced, and the
 *   caller gets `Sandbox.Timedout`, as from Lambda;
 * - its memory, as far as the JavaScript heap goes: the V8 heap limits the Lambda Node.js runtime
 *   sets for the function's memory size (`heapLimitsFor`); a sandbox past them is ended and
 *   replaced, and the caller gets `Runtime.OutOfMemory`;
 * - errors come back as Lambda reports them: the thrown error's name as `errorType`, its message
 *   as `errorMessage` (so the local Step Functions matches the same `ErrorEquals` names).
 * What a sandbox writes to stdout/stderr goes to the runtime's stdout/stderr (Lambda: CloudWatch
 * Logs), except the console approval notifier's lines, which go to the runtime log.
 */
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { BatonError, ErrorNames } from '../../lambdas/core/errors.js';
import { type LocalTransport, type SandboxRequest, wireHeaders } from './transport.js';

/** A function's response is refused above this size, as Lambda refuses a synchronous one. */
export const MAX_RESPONSE_BYTES = 6 * 1024 * 1024;
/** Sandboxes per function at once; more concurrent invocations wait for one (local resources). */
export const DEFAULT_MAX_SANDBOXES = 10;
/** What ConsoleApprovalNotifier's lines start with (lambdas/adapters/notifier.ts). */
const APPROVAL_LINE = '[baton] ';

/** A function's invocation failed: `name` is Lambda's `errorType` (e.g. Baton.AgentFailed). */
export class LambdaInvocationError extends BatonError {
  readonly errorType: string;
  readonly trace: string[];
  constructor(errorType: string, errorMessage: string, trace: string[] = [], options?: { cause?: unknown }) {
    super(errorMessage, options);
    this.name = errorType;
    this.errorType = errorType;
    this.trace = trace;
  }
}

/** The function ran past its timeout: Lambda's `Sandbox.Timedout`. */
export class LambdaTimeoutError extends BatonError {
  constructor(fn: string, seconds: number) {
    super(`Task timed out after ${seconds} seconds (${fn})`);
    this.name = 'Sandbox.Timedout';
  }
}

export class LocalFunctionClosedError extends BatonError {
  constructor(fn: string) {
    super(`The local runtime stopped while ${fn} was running`);
    this.name = ErrorNames.LocalRuntimeError;
  }
}

export interface LocalFunctionSpec {
  logicalId: string;
  arn: string;
  /** The bundle's entry file (in the cloud assembly's asset directory) and its export. */
  file: string;
  exportName: string;
  timeoutSeconds: number;
  memoryMb: number;
  /** The function's whole environment; read when a sandbox starts. */
  env: () => Record<string, string>;
  /** The console approval notifier's lines. */
  approvalLine: (line: string) => void;
  /**
   * Every other line the function writes (its logs and EMF metrics; Lambda: CloudWatch Logs).
   * Default: the runtime's stdout / stderr as written.
   */
  output?: (line: string, stream: 'stdout' | 'stderr') => void;
  maxSandboxes?: number;
  /** Where V8 keeps the bundles' compiled code between cold starts (optional). */
  compileCacheDir?: string;
  /**
   * The in-process transport to the local endpoints (lib/local/transport.ts): the sandbox's
   * requests to `transport.origins()` (read when a sandbox starts) come as messages. Without
   * it they go over TCP.
   */
  transport?: LocalTransport;
}

/**
 * The V8 heap limits the Lambda Node.js runtime's bootstrap gives a function of `memoryMb`: new
 * space a tenth of the memory, each semi-space half of that (`--max-semi-space-size`), old space
 * the rest (`--max-old-space-size`). Node counts a worker's young generation as three
 * semi-spaces (two and the new large-object space).
 */
export function heapLimitsFor(memoryMb: number): {
  maxOldGenerationSizeMb: number;
  maxYoungGenerationSizeMb: number;
} {
  const newSpace = Math.floor(memoryMb / 10);
  const semiSpace = Math.floor(newSpace / 2);
  return { maxOldGenerationSizeMb: memoryMb - newSpace, maxYoungGenerationSizeMb: 3 * semiSpace };
}

/** V8's CPU profiler in each sandbox, when BATON_SANDBOX_CPU_PROF_DIR names where profiles go. */
function sandboxProfilerArgs(): string[] {
  const dir = process.env.BATON_SANDBOX_CPU_PROF_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=1000'] : [];
}

/** How an invocation ended; `fatal`: the sandbox cannot be reused (timeout, crash, failed init). */
type Outcome = { ok: true; payload: string } | { ok: false; error: Error; fatal: boolean };

interface Sandbox {
  worker: Worker;
  busy: boolean;
  /** Its requests on the in-process transport being answered, by the sandbox's id. */
  requests: Map<number, AbortController>;
  /** Ends the invocation it runs: its result message, its timeout or its exit. */
  settle?: (outcome: Outcome) => void;
}

const WORKER_FILE = new URL('./lambda-worker.mjs', import.meta.url);

export class LocalFunction {
  readonly logicalId: string;
  readonly arn: string;
  /** Its function name (the ARN's last part: a fixed FunctionName for agents, else the logical id). */
  readonly functionName: string;
  readonly timeoutSeconds: number;
  readonly file: string;
  /** Invocations so far (what `npm run bench` counts). */
  invocations = 0;
  private readonly spec: LocalFunctionSpec;
  private readonly sandboxes = new Set<Sandbox>();
  private readonly waiting: (() => void)[] = [];
  private closed = false;
  /** Sandboxes started so far (cold starts). */
  coldStarts = 0;
  /**
   * CPU time its sandboxes' threads spent on invocations so far, ms (each thread's own clock, not
   * wall time: what `npm run bench` reports per function). A cold start's is its first
   * invocation's; a sandbox terminated mid-invocation (a timeout) reports none for it.
   */
  cpuMs = 0;
  /** Requests its sandboxes sent on the in-process transport (not over TCP). */
  carried = 0;

  constructor(spec: LocalFunctionSpec) {
    this.spec = spec;
    this.logicalId = spec.logicalId;
    this.arn = spec.arn;
    this.functionName = spec.arn.split(':').at(-1) || spec.logicalId;
    this.timeoutSeconds = spec.timeoutSeconds;
    this.file = spec.file;
  }

  /** The environment a sandbox of it starts with (tests run a probe module under a function's identity). */
  environment(): Record<string, string> {
    return this.spec.env();
  }

  /** Invokes the function with a copy of `event` (through JSON, as Lambda hands it over). */
  async invoke(event: unknown): Promise<unknown> {
    this.invocations += 1;
    const sandbox = await this.acquire();
    const deadline = Date.now() + this.timeoutSeconds * 1000;
    const id = randomUUID();
    let timer: NodeJS.Timeout | undefined;
    const outcome = new Promise<Outcome>((settle) => {
      sandbox.settle = settle;
      timer = setTimeout(
        () =>
          settle({
            ok: false,
            error: new LambdaTimeoutError(this.logicalId, this.timeoutSeconds),
            fatal: true,
          }),
        this.timeoutSeconds * 1000,
      );
    });
    sandbox.worker.postMessage({
      type: 'invoke',
      id,
      event: JSON.stringify(event ?? null),
      context: {
        functionName: this.functionName,
        functionVersion: '$LATEST',
        invokedFunctionArn: this.arn,
        memoryLimitInMB: String(this.spec.memoryMb),
        awsRequestId: id,
        logGroupName: `/aws/lambda/${this.functionName}`,
        logStreamName: 'local',
        deadline,
      },
    });
    const result = await outcome;
    clearTimeout(timer);
    sandbox.settle = undefined;
    if (!result.ok && result.fatal) this.discard(sandbox);
    else this.release(sandbox);
    if (!result.ok) throw result.error;
    if (Buffer.byteLength(result.payload) > MAX_RESPONSE_BYTES) {
      throw new LambdaInvocationError(
        'Function.ResponseSizeTooLarge',
        `Response payload size (${Buffer.byteLength(result.payload)} bytes) exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
      );
    }
    return JSON.parse(result.payload) as unknown;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.all(
      [...this.sandboxes].map(async (s) => {
        s.settle?.({ ok: false, error: new LocalFunctionClosedError(this.logicalId), fatal: true });
        await s.worker.terminate();
      }),
    );
    this.sandboxes.clear();
  }

  private async acquire(): Promise<Sandbox> {
    for (;;) {
      if (this.closed) throw new LocalFunctionClosedError(this.logicalId);
      const idle = [...this.sandboxes].find((s) => !s.busy);
      if (idle) {
        idle.busy = true;
        return idle;
      }
      if (this.sandboxes.size < (this.spec.maxSandboxes ?? DEFAULT_MAX_SANDBOXES)) {
        const s = this.start();
        s.busy = true;
        return s;
      }
      await new Promise<void>((wake) => this.waiting.push(wake));
    }
  }

  private release(sandbox: Sandbox): void {
    sandbox.busy = false;
    this.waiting.shift()?.();
  }

  private discard(sandbox: Sandbox): void {
    this.sandboxes.delete(sandbox);
    void sandbox.worker.terminate();
    this.waiting.shift()?.();
  }

  private start(): Sandbox {
    this.coldStarts += 1;
    const worker = new Worker(WORKER_FILE, {
      workerData: {
        file: this.file,
        exportName: this.spec.exportName,
        compileCacheDir: this.spec.compileCacheDir,
        ...(this.spec.transport ? { localOrigins: this.spec.transport.origins() } : {}),
      },
      env: this.spec.env(),
      // No loader of the runtime's (tsx) and no flag of its: the bundle runs as in Lambda. The
      // one exception is the profiler `npm run bench:profile` asks for (BATON_SANDBOX_CPU_PROF_DIR).
      execArgv: sandboxProfilerArgs(),
      resourceLimits: heapLimitsFor(this.spec.memoryMb),
      argv: [],
      stdout: true,
      stderr: true,
      name: this.logicalId,
    });
    const sandbox: Sandbox = { worker, busy: false, requests: new Map() };
    this.forward(worker.stdout, 'stdout');
    this.forward(worker.stderr, 'stderr');
    worker.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'http-request') this.carry(sandbox, msg);
      else if (msg.type === 'http-abort') {
        sandbox.requests.get(msg.id)?.abort();
        sandbox.requests.delete(msg.id);
      } else if (msg.type === 'result') {
        this.cpuMs += msg.cpuMicros / 1000;
        sandbox.settle?.(
          msg.ok
            ? { ok: true, payload: msg.payload }
            : {
                ok: false,
                error: new LambdaInvocationError(msg.errorType, msg.errorMessage, msg.trace),
                fatal: msg.fatal,
              },
        );
      } else if (msg.type === 'crash') {
        sandbox.settle?.({
          ok: false,
          error: new LambdaInvocationError(msg.errorType, msg.errorMessage),
          fatal: true,
        });
      }
    });
    worker.on('error', (err) => {
      // Past its heap limit (heapLimitsFor) V8 stops the sandbox, as Lambda ends an environment
      // that runs out of memory.
      const outOfMemory = (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY';
      sandbox.settle?.({
        ok: false,
        error: outOfMemory
          ? new LambdaInvocationError(
              'Runtime.OutOfMemory',
              `RequestId: local Error: Runtime exited with error: signal: killed (the ${this.spec.memoryMb} MB function ran out of memory)`,
              [],
              { cause: err },
            )
          : new LambdaInvocationError(err.name || 'Runtime.ExitError', err.message, [], { cause: err }),
        fatal: true,
      });
    });
    worker.on('exit', (code) => {
      this.sandboxes.delete(sandbox);
      // A terminated sandbox's requests end with it (a long poll stops, as when its socket closes);
      // an answer that comes later finds its request gone and is dropped.
      for (const request of sandbox.requests.values()) request.abort();
      sandbox.requests.clear();
      sandbox.settle?.({
        ok: false,
        error: new LambdaInvocationError(
          'Runtime.ExitError',
          `RequestId: local Error: Runtime exited with error: exit status ${code}`,
        ),
        fatal: true,
      });
    });
    this.sandboxes.add(sandbox);
    return sandbox;
  }

  /** Answers a request of the sandbox's on the in-process transport. */
  private carry(sandbox: Sandbox, msg: SandboxRequest & { id: number }): void {
    const { transport } = this.spec;
    const { id } = msg;
    const answer = (reply: Record<string, unknown>) => {
      if (sandbox.requests.delete(id)) sandbox.worker.postMessage(reply);
    };
    const aborted = new AbortController();
    sandbox.requests.set(id, aborted);
    this.carried += 1;
    if (!transport) {
      answer({ type: 'http-error', id, code: 'ECONNREFUSED', message: 'no in-process transport' });
      return;
    }
    transport.handle(msg, aborted.signal).then(
      (r) =>
        answer({
          type: 'http-response',
          id,
          status: r.status,
          headers: wireHeaders(r.headers),
          body: r.body,
        }),
      (err: unknown) =>
        answer({
          type: 'http-error',
          id,
          code: 'ECONNRESET',
          message: `socket hang up (${err instanceof Error ? err.message : String(err)})`,
        }),
    );
  }

  private forward(from: Readable, stream: 'stdout' | 'stderr'): void {
    const to = stream === 'stdout' ? process.stdout : process.stderr;
    createInterface({ input: from, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
      if (line.startsWith(APPROVAL_LINE)) this.spec.approvalLine(line);
      else if (this.spec.output) this.spec.output(line, stream);
      else to.write(`${line}\n`);
    });
  }
}

type WorkerMessage =
  | { type: 'result'; id: string; ok: true; payload: string; cpuMicros: number }
  | {
      type: 'result';
      id: string;
      ok: false;
      fatal: boolean;
      errorType: string;
      errorMessage: string;
      trace?: string[];
      cpuMicros: number;
    }
  | { type: 'crash'; errorType: string; errorMessage: string }
  | ({ type: 'http-request'; id: number } & SandboxRequest)
  | { type: 'http-abort'; id: number };
