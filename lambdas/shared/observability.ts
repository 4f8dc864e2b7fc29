/**
 * Powertools Logger, Tracer and Metrics, shared by every handler (one instance each per
 * container), and the middleware every handler starts with (`observed`):
 *
 * - Logger: JSON lines; each line of an invocation carries the scope of what it works on
 *   (`taskId`, `run`, `stepId`, `attempt`) and `traceId`, the task's one X-Ray trace id (the
 *   Lambda's own `xray_trace_id` is beside it when X-Ray runs). The keys are cleared between
 *   invocations. One `handled` line per invocation (with `durationMs` and `outcome`).
 * - Tracer: the Lambda segment's `## handler` subsegment (captureLambdaHandler, responses not
 *   captured: they can be large and hold task data), AWS SDK clients traced (adapters/clients.ts),
 *   and spans through the Telemetry port (`xrayTelemetry`), annotated with the OpenTelemetry
 *   GenAI attributes. Off where no X-Ray daemon is (Powertools: outside Lambda, or
 *   POWERTOOLS_TRACE_ENABLED=false, which local mode sets): trace ids still flow.
 * - Metrics: EMF documents on stdout, namespace `Baton` (lambdas/core/metrics.ts lists them).
 */
import { getXrayTraceDataFromEnv } from '@aws-lambda-powertools/commons/utils/env';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type middy from '@middy/core';
import type { NewEvent } from '../core/events.js';
import type { EventMeter } from '../core/metrics.js';
import type { StepResult } from '../core/ports.js';
import {
  METRIC_NAMESPACE,
  type MetricPoint,
  type Span,
  type SpanAttributes,
  type Telemetry,
} from '../core/telemetry.js';
import { isTraceId } from '../core/trace.js';

const serviceName = process.env.POWERTOOLS_SERVICE_NAME ?? 'baton';
export const logger = new Logger({ serviceName });
export const tracer = new Tracer({ serviceName, captureHTTPsRequests: false });

export function logLine(line: Record<string, unknown>): void {
  const { level, message, ...rest } = line;
  const text = typeof message === 'string' ? message : 'event';
  if (level === 'error') logger.error(text, rest);
  else if (level === 'warn') logger.warn(text, rest);
  else logger.info(text, rest);
}

/* --------------------------------------------------------------------- log scope */

/** What an invocation works on: the keys every one of its log lines carries. */
export interface LogScope {
  taskId?: string;
  run?: number;
  stepId?: string;
  attempt?: number;
  traceId?: string;
}

const SCOPE_KEYS = ['taskId', 'run', 'stepId', 'attempt', 'traceId'] as const;

/** The scope fields of a state-machine payload, an agent request or an intake message. */
export function scopeOf(value: unknown): LogScope {
  if (!value || typeof value !== 'object') return {};
  const v = value as Record<string, unknown>;
  const scope: LogScope = {};
  if (typeof v.taskId === 'string') scope.taskId = v.taskId;
  if (typeof v.stepId === 'string') scope.stepId = v.stepId;
  if (typeof v.run === 'number') scope.run = v.run;
  if (typeof v.attempt === 'number') scope.attempt = v.attempt;
  if (isTraceId(v.traceId)) scope.traceId = v.traceId;
  return scope;
}

/** The Lambda's own trace id (X-Ray's `_X_AMZN_TRACE_ID` Root), when it has one. */
export function lambdaTraceHeader(): string | undefined {
  const data = getXrayTraceDataFromEnv();
  if (!data?.Root) return undefined;
  return Object.entries(data)
    .map(([k, v]) => `${k}=${v}`)
    .join(';');
}

/** The scope of the current invocation (set by `observed`, extended by `addLogScope`). */
let current: LogScope = {};

export function currentLogScope(): LogScope {
  return current;
}

/** Adds keys to every further line of this invocation (e.g. the task id once the API made it). */
export function addLogScope(scope: LogScope): void {
  const defined = Object.fromEntries(Object.entries(scope).filter(([, v]) => v !== undefined));
  current = { ...current, ...defined };
  logger.appendKeys(defined);
}

/** Runs `fn` with `scope` on the lines it logs (one record of a batch), then removes it. */
export async function withLogScope<T>(scope: LogScope, fn: () => Promise<T>): Promise<T> {
  const saved = current;
  addLogScope(scope);
  try {
    return await fn();
  } finally {
    logger.removeKeys([...SCOPE_KEYS]);
    current = {};
    addLogScope(saved);
  }
}

export interface ObservedOptions {
  /** The scope of an invocation from its event (default: `scopeOf(event)`). */
  scope?: (event: unknown) => LogScope;
}

/**
 * The middlewares every handler starts with: logger context (keys reset after each
 * invocation), the invocation's scope on every line, the tracer's handler subsegment, and one
 * `handled` line at the end.
 */
export function observed(options: ObservedOptions = {}): middy.MiddlewareObj[] {
  const scope = options.scope ?? scopeOf;
  let started = 0;
  const end = (request: middy.Request, error?: unknown) => {
    const durationMs = Date.now() - started;
    if (error === undefined) logger.info('handled', { durationMs, outcome: 'ok' });
    // An error a later middleware answered (the API's problem responses, logged there if a 5xx).
    else if (request.response !== undefined)
      logger.info('handled', { durationMs, outcome: 'answered', errorName: (error as Error)?.name });
    else logger.error('handled', { durationMs, outcome: 'error', error: error as Error });
    current = {};
  };
  return [
    injectLambdaContext(logger, { resetKeys: true }) as middy.MiddlewareObj,
    captureLambdaHandler(tracer, { captureResponse: false }) as middy.MiddlewareObj,
    {
      before: (request) => {
        started = Date.now();
        current = {};
        logger.removeKeys([...SCOPE_KEYS]);
        addLogScope(scope(request.event));
      },
      after: (request) => end(request),
      onError: (request) => end(request, request.error ?? new Error('unknown error')),
    },
  ];
}

/* ------------------------------------------------------------------------- spans */

const ANNOTATION_KEY = /[^A-Za-z0-9_]/g;

/**
 * Spans as X-Ray subsegments of the current segment. X-Ray annotation keys allow only letters,
 * digits and `_`, so each attribute is an annotation under its name with `.` as `_`
 * (`gen_ai_operation_name`, searchable), and all of them are metadata under their OpenTelemetry
 * names in the namespace `otel` (`gen_ai.operation.name`), which OTel-minded readers take as is.
 */
export function xrayTelemetry(t: Tracer = tracer): Telemetry {
  return {
    async span(name, attributes, fn) {
      const parent = t.isTracingEnabled() ? t.getSegment() : undefined;
      if (!parent) return fn({ set() {} });
      const sub = parent.addNewSubsegment(name);
      const all: SpanAttributes = {};
      const span: Span = {
        set(attrs) {
          for (const [k, v] of Object.entries(attrs)) {
            all[k] = v;
            sub.addAnnotation(k.replace(ANNOTATION_KEY, '_'), v);
          }
          sub.addMetadata('attributes', { ...all }, 'otel');
        },
      };
      span.set(attributes);
      t.setSegment(sub);
      try {
        const result = await fn(span);
        sub.close();
        return result;
      } catch (err) {
        sub.addError(err as Error);
        sub.close();
        throw err;
      } finally {
        t.setSegment(parent);
      }
    },
  };
}

/* ------------------------------------------------------------------------ metrics */

const UNITS = {
  Count: MetricUnit.Count,
  Milliseconds: MetricUnit.Milliseconds,
  Seconds: MetricUnit.Seconds,
  None: MetricUnit.NoUnit,
} as const;

/**
 * Publishes metric points, each as one EMF document of its own dimensions (namespace Baton, no
 * default `service` dimension: alarms and the dashboard name exactly the dimensions below).
 */
export function publishMetrics(points: readonly MetricPoint[]): void {
  for (const p of points) {
    const m = new Metrics({ namespace: METRIC_NAMESPACE, singleMetric: true });
    m.clearDefaultDimensions();
    if (Object.keys(p.dimensions).length) m.addDimensions(p.dimensions);
    m.addMetric(p.name, UNITS[p.unit], p.value);
  }
}

/** An event port whose newly written events publish the metrics they imply (EventMeter). */
export function meteredEvents<
  S extends {
    appendEvent(e: NewEvent): Promise<unknown>;
    appendEvents?(events: readonly NewEvent[], opts?: { firstSeq?: number }): Promise<unknown[]>;
    putSuccess?(
      taskId: string,
      success: { result: StepResult; event: NewEvent; seq: number },
    ): Promise<boolean>;
  },
>(store: S, meter: EventMeter, publish: (points: readonly MetricPoint[]) => void = publishMetrics): S {
  const append = store.appendEvent.bind(store);
  const observe = (e: NewEvent, written: unknown) => {
    try {
      publish(meter.observe(e, written !== undefined));
    } catch (err) {
      logger.warn('Could not publish the metrics of an event', { eventId: e.id, error: err as Error });
    }
  };
  const appendEvent = async (e: NewEvent) => {
    const written = await append(e);
    observe(e, written);
    return written;
  };
  const appendEvents = async (events: readonly NewEvent[], opts?: { firstSeq?: number }) => {
    const written = store.appendEvents
      ? await store.appendEvents(events, opts)
      : await Promise.all(events.map((e) => append(e)));
    events.forEach((e, i) => {
      observe(e, written[i]);
    });
    return written;
  };
  // A step's success writes its StepSucceeded with its result (ResultPort.putSuccess).
  const putSuccess = async (
    taskId: string,
    success: { result: StepResult; event: NewEvent; seq: number },
  ) => {
    const written = (await store.putSuccess?.(taskId, success)) === true;
    observe(success.event, written || undefined);
    return written;
  };
  // Everything else is the store's own, called on the store itself.
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'appendEvent') return appendEvent;
      if (prop === 'appendEvents') return appendEvents;
      if (prop === 'putSuccess' && store.putSuccess) return putSuccess;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
