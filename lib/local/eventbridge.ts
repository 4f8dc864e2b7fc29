/**
 * Local EventBridge: the template's `AWS::Events::Rule` resources on the default bus. An event
 * put on the bus (the local Step Functions' execution status changes) is matched against each
 * rule's EventPattern; every target of a matching rule is invoked asynchronously, retried with
 * exponential backoff (the target's RetryPolicy: MaximumRetryAttempts, MaximumEventAgeInSeconds),
 * and sent to the target's DeadLetterConfig queue when it keeps failing, as EventBridge does.
 * `put` resolves when every target has taken the event (or it was dead-lettered), so the caller
 * (an outbox) can keep an event until then.
 *
 * Pattern matching: no maintained npm package implements EventBridge's pattern semantics on its
 * own (emulators each carry their own), so this module implements the documented subset Baton's
 * rules use: exact values (string, number, boolean, null), an array as OR of its values, nested
 * objects (every key must match, AND), and an event field holding an array matches when any of
 * its elements does. Content filters (`prefix`, `anything-but`, `numeric`, `exists`, `$or`, ...)
 * are refused by name when the rules are read: a rule that silently matched nothing would look
 * merely too specific.
 *
 * Scheduled rules: `rate(N unit)` expressions fire on a timer from `startSchedules`, with
 * EventBridge's "Scheduled Event" (`runScheduled` fires one now, for tests); cron is refused.
 */
import { randomUUID } from 'node:crypto';
import { BatonError, ErrorNames } from '../../lambdas/core/errors.js';

export class EventBridgeError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.EmulatorError;
  }
}

/** An EventBridge event pattern (JSON): leaves are arrays of values. */
export type EventPattern = { [key: string]: EventPattern | readonly unknown[] };

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Throws EventBridgeError when the pattern uses what this emulator does not implement. */
export function assertSupportedPattern(
  pattern: unknown,
  where = 'EventPattern',
): asserts pattern is EventPattern {
  if (!isPlainObject(pattern)) throw new EventBridgeError(`${where} must be a JSON object`);
  for (const [key, value] of Object.entries(pattern)) {
    const at = `${where}.${key}`;
    if (key.startsWith('$')) throw new EventBridgeError(`${at}: "${key}" is not supported by local mode`);
    if (Array.isArray(value)) {
      for (const v of value) {
        if (isPlainObject(v)) {
          const op = Object.keys(v)[0] ?? '{}';
          throw new EventBridgeError(`${at}: the content filter "${op}" is not supported by local mode`);
        }
        if (Array.isArray(v)) throw new EventBridgeError(`${at}: nested arrays are not valid in a pattern`);
      }
      continue;
    }
    if (isPlainObject(value)) {
      assertSupportedPattern(value, at);
      continue;
    }
    throw new EventBridgeError(`${at}: a pattern's values must be arrays or objects`);
  }
}

const matchesValue = (allowed: readonly unknown[], value: unknown): boolean =>
  Array.isArray(value) ? value.some((v) => allowed.includes(v)) : allowed.includes(value);

/** Does the event match the pattern? (The subset above; check it with assertSupportedPattern.) */
export function matchesPattern(pattern: EventPattern, event: unknown): boolean {
  if (!isPlainObject(event)) return false;
  return Object.entries(pattern).every(([key, expected]) => {
    const value = event[key];
    if (Array.isArray(expected)) return value !== undefined && matchesValue(expected, value);
    return isPlainObject(value) && matchesPattern(expected as EventPattern, value);
  });
}

/** One target of a rule: how to invoke it and what to do when it keeps failing. */
export interface LocalEventTarget {
  id: string;
  /** Invokes the target with the event; rejects when the invocation failed. */
  invoke(event: unknown): Promise<void>;
  /** Retries after the first attempt (RetryPolicy.MaximumRetryAttempts; EventBridge's default 185). */
  maximumRetryAttempts: number;
  /** RetryPolicy.MaximumEventAgeInSeconds (default 86,400). */
  maximumEventAgeSeconds: number;
  /** DeadLetterConfig: where an event that could not be delivered goes, with the last error. */
  deadLetter?(event: unknown, error: unknown): Promise<void>;
}

export interface LocalEventRule {
  name: string;
  /** An event pattern rule; a scheduled rule has none. */
  pattern?: EventPattern;
  /** A scheduled rule (`rate(...)`): how often it fires. */
  schedule?: { expression: string; everyMs: number };
  /** The rule's ARN (a scheduled event names it in `resources`). */
  arn?: string;
  targets: LocalEventTarget[];
}

const RATE_UNITS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/**
 * A `rate(value unit)` schedule expression, as EventBridge takes it (1 with the singular unit,
 * more with the plural); cron expressions are not emulated.
 */
export function parseRate(expression: string, where: string): number {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  const value = Number(m?.[1]);
  const unit = m?.[2] ?? '';
  if (!m || value < 1 || (value === 1) !== !unit.endsWith('s'))
    throw new EventBridgeError(
      `${where}: only rate(N unit) schedules are emulated (e.g. rate(1 minute), rate(5 minutes)); got ${expression}`,
    );
  return value * (RATE_UNITS[unit.replace(/s$/, '')] as number);
}

export interface LocalEventBusOptions {
  rules: LocalEventRule[];
  log?: (line: Record<string, unknown>) => void;
  /** The wait before retry n (1-based). Default: 1 s × 2^(n-1), capped at 60 s, with jitter. */
  retryDelayMs?: (retry: number) => number;
  /** Where the bus is: the region and account of the Scheduled Events it makes. */
  region: string;
  account: string;
}

const defaultDelay = (retry: number) => {
  const base = Math.min(60_000, 1000 * 2 ** (retry - 1));
  return base / 2 + Math.random() * (base / 2);
};

/** Thrown to pending deliveries when the bus closes: the caller keeps the event for the next process. */
export class EventBusClosedError extends EventBridgeError {
  constructor() {
    super('The local event bus is closed');
  }
}

export class LocalEventBus {
  private readonly log: (line: Record<string, unknown>) => void;
  private readonly delay: (retry: number) => number;
  private readonly closing = new AbortController();
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly opts: LocalEventBusOptions) {
    this.log = opts.log ?? (() => undefined);
    this.delay = opts.retryDelayMs ?? defaultDelay;
  }

  get rules(): readonly LocalEventRule[] {
    return this.opts.rules;
  }

  /**
   * Puts one event on the bus. Resolves once every target of every matching rule took it (or it
   * went to the target's dead-letter queue, or had none to go to); rejects with
   * EventBusClosedError when the bus closes first.
   */
  async put(event: unknown): Promise<void> {
    if (this.closing.signal.aborted) throw new EventBusClosedError();
    const targets = this.opts.rules
      .filter((rule) => rule.pattern !== undefined && matchesPattern(rule.pattern, event))
      .flatMap((rule) => rule.targets.map((target) => ({ rule, target })));
    await Promise.all(targets.map(({ rule, target }) => this.deliver(rule, target, event)));
  }

  /**
   * Fires each scheduled rule now and then on its rate (timers that do not keep the process up).
   * A rule's first tick comes at start: the time the process was down is time in which AWS would
   * have fired it (the sweep of tasks left QUEUED by a crash runs at once after a restart).
   */
  startSchedules(): void {
    for (const rule of this.opts.rules) {
      if (!rule.schedule) continue;
      void this.runScheduled(rule.name).catch(() => undefined);
      const timer = setInterval(() => {
        void this.runScheduled(rule.name).catch(() => undefined);
      }, rule.schedule.everyMs);
      timer.unref();
      this.timers.push(timer);
    }
  }

  /**
   * Fires the scheduled rule `name` (or every scheduled rule) now, with EventBridge's
   * "Scheduled Event": what its rate would do next. Resolves once its targets took it.
   */
  async runScheduled(name?: string): Promise<void> {
    if (this.closing.signal.aborted) throw new EventBusClosedError();
    const rules = this.opts.rules.filter((r) => r.schedule && (name === undefined || r.name === name));
    await Promise.all(
      rules.flatMap((rule) => {
        const event = {
          version: '0',
          id: randomUUID(),
          'detail-type': 'Scheduled Event',
          source: 'aws.events',
          account: this.opts.account,
          time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
          region: this.opts.region,
          resources: rule.arn ? [rule.arn] : [],
          detail: {},
        };
        return rule.targets.map((target) => this.deliver(rule, target, event));
      }),
    );
  }

  /** Stops retrying and the schedules; deliveries under way reject with EventBusClosedError. */
  close(): void {
    this.closing.abort();
    for (const t of this.timers.splice(0)) clearInterval(t);
  }

  private async deliver(rule: LocalEventRule, target: LocalEventTarget, event: unknown): Promise<void> {
    const started = Date.now();
    let lastError: unknown;
    for (let attempt = 0; attempt <= target.maximumRetryAttempts; attempt++) {
      if (attempt > 0) await this.wait(this.delay(attempt));
      if (this.closing.signal.aborted) throw new EventBusClosedError();
      try {
        await target.invoke(event);
        return;
      } catch (err) {
        lastError = err;
        this.log({
          level: 'warn',
          msg: 'event target failed',
          rule: rule.name,
          target: target.id,
          attempt: attempt + 1,
          error: String(err),
        });
      }
      if (this.closing.signal.aborted) throw new EventBusClosedError();
      if (Date.now() - started >= target.maximumEventAgeSeconds * 1000) break;
    }
    if (!target.deadLetter) {
      this.log({
        level: 'error',
        msg: 'event dropped: no dead-letter queue',
        rule: rule.name,
        target: target.id,
      });
      return;
    }
    await target.deadLetter(event, lastError);
    this.log({
      level: 'warn',
      msg: 'event sent to the dead-letter queue',
      rule: rule.name,
      target: target.id,
    });
  }

  private wait(ms: number): Promise<void> {
    const signal = this.closing.signal;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** What the rules' targets reach in local mode. */
export interface LocalEventEndpoints {
  /**
   * Invokes a Lambda function by ARN on behalf of the rule (logical id `ruleId`); rejects when
   * it fails, or when the function's resource policy does not let that rule invoke it.
   */
  invokeFunction(functionArn: string, event: unknown, ruleId: string): Promise<void>;
  /** Sends a message to an SQS queue by ARN. */
  sendToQueue(queueArn: string, body: string, attributes: Record<string, string>): Promise<void>;
}

interface CfnRuleTarget {
  Arn: string;
  Id: string;
  RetryPolicy?: { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number };
  DeadLetterConfig?: { Arn?: string };
  Input?: unknown;
  InputPath?: unknown;
  InputTransformer?: unknown;
}

/**
 * The rules of a template (`AWS::Events::Rule`, properties with intrinsics resolved) on the
 * default bus, their Lambda targets wired to the endpoints. Refuses what local mode does not
 * emulate (other buses, scheduled rules, non-Lambda targets, input transformation, unsupported
 * pattern operators); disabled rules are left out.
 */
export function localEventRules(
  rules: [string, Record<string, unknown> | undefined][],
  endpoints: LocalEventEndpoints,
  /** Each rule's ARN, by logical id. */
  arns?: Record<string, string>,
): LocalEventRule[] {
  const out: LocalEventRule[] = [];
  for (const [id, props = {}] of rules) {
    if (props.State === 'DISABLED') continue;
    if (props.EventBusName !== undefined && props.EventBusName !== 'default')
      throw new EventBridgeError(`Rule ${id}: only the default event bus is emulated`);
    const schedule =
      props.ScheduleExpression !== undefined
        ? {
            expression: String(props.ScheduleExpression),
            everyMs: parseRate(String(props.ScheduleExpression), `Rule ${id}`),
          }
        : undefined;
    if (!schedule) assertSupportedPattern(props.EventPattern, `Rule ${id} EventPattern`);
    const targets = ((props.Targets ?? []) as CfnRuleTarget[]).map((t): LocalEventTarget => {
      if (!/^arn:[^:]+:lambda:/.test(t.Arn))
        throw new EventBridgeError(`Rule ${id} target ${t.Id}: only Lambda targets are emulated (${t.Arn})`);
      if (t.Input !== undefined || t.InputPath !== undefined || t.InputTransformer !== undefined)
        throw new EventBridgeError(`Rule ${id} target ${t.Id}: input transformation is not emulated`);
      const dlq = t.DeadLetterConfig?.Arn;
      return {
        id: t.Id,
        invoke: (event) => endpoints.invokeFunction(t.Arn, event, id),
        maximumRetryAttempts: t.RetryPolicy?.MaximumRetryAttempts ?? 185,
        maximumEventAgeSeconds: t.RetryPolicy?.MaximumEventAgeInSeconds ?? 86_400,
        ...(dlq
          ? {
              // As EventBridge sends it: the event as the body, why in the attributes.
              deadLetter: (event: unknown, error: unknown) =>
                endpoints.sendToQueue(dlq, JSON.stringify(event), {
                  RULE_ARN: id,
                  TARGET_ARN: t.Arn,
                  ERROR_CODE: error instanceof Error ? error.name : 'Error',
                  ERROR_MESSAGE: (error instanceof Error ? error.message : String(error)).slice(0, 1000),
                }),
            }
          : {}),
      };
    });
    out.push({
      name: id,
      ...(schedule ? { schedule } : { pattern: props.EventPattern as EventPattern }),
      ...(arns?.[id] ? { arn: arns[id] } : {}),
      targets,
    });
  }
  return out;
}
