/**
 * Local EventBridge (lib/local/eventbridge.ts) and the local Step Functions' status change events
 * (lib/local/sfn/status-events.ts): pattern matching, delivery with retries and a dead-letter
 * queue, the events of each status, and an undelivered event surviving a restart.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EXECUTION_STATUS_CHANGE, ExecutionStatusChange } from '../../lambdas/core/execution-status.js';
import {
  assertSupportedPattern,
  EventBridgeError,
  EventBusClosedError,
  type EventPattern,
  LocalEventBus,
  localEventRules,
  matchesPattern,
  parseRate,
} from '../../lib/local/eventbridge.js';
import { LocalStepFunctions } from '../../lib/local/sfn/index.js';

const SM_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:Test';
const execArn = (name: string) => `arn:aws:states:us-east-1:123456789012:execution:Test:${name}`;
const FN = 'arn:aws:lambda:us-east-1:123456789012:function:Reconciler';
const DLQ = 'arn:aws:sqs:us-east-1:123456789012:dead-letters';
/** Where the buses of these tests are (the Scheduled Events they make name it). */
const WHERE = { region: 'us-east-1', account: '123456789012' } as const;

/** The pattern the stack's rule has (lib/aws/stack.ts), with the state machine's ARN. */
const BATON_RULE: EventPattern = {
  source: ['aws.states'],
  'detail-type': ['Step Functions Execution Status Change'],
  detail: { stateMachineArn: [SM_ARN], status: ['TIMED_OUT', 'ABORTED', 'FAILED'] },
};

const event = (status: string, stateMachineArn = SM_ARN) => ({
  source: EXECUTION_STATUS_CHANGE.source,
  'detail-type': EXECUTION_STATUS_CHANGE.detailType,
  detail: { stateMachineArn, status, tags: ['a', 'b'] },
});

describe('event patterns', () => {
  it('matches exact values, arrays as OR, nested objects as AND, and any element of an array field', () => {
    expect(matchesPattern(BATON_RULE, event('ABORTED'))).toBe(true);
    expect(matchesPattern(BATON_RULE, event('TIMED_OUT'))).toBe(true);
    expect(matchesPattern(BATON_RULE, event('SUCCEEDED'))).toBe(false);
    expect(matchesPattern(BATON_RULE, event('RUNNING'))).toBe(false);
    expect(matchesPattern(BATON_RULE, event('FAILED', `${SM_ARN}-other`))).toBe(false);
    expect(matchesPattern(BATON_RULE, { ...event('FAILED'), source: 'aws.s3' })).toBe(false);
    expect(matchesPattern({ detail: { tags: ['b'] } }, event('FAILED'))).toBe(true);
    expect(matchesPattern({ detail: { missing: ['x'] } }, event('FAILED'))).toBe(false);
    expect(matchesPattern({ detail: { status: { nested: ['x'] } } }, event('FAILED'))).toBe(false);
    expect(
      matchesPattern({ count: [3], flag: [true], none: [null] }, { count: 3, flag: true, none: null }),
    ).toBe(true);
  });

  it('refuses, by name, what local mode does not implement', () => {
    expect(() => assertSupportedPattern(BATON_RULE)).not.toThrow();
    expect(() => assertSupportedPattern({ detail: { status: [{ prefix: 'TIMED' }] } })).toThrow(
      /EventPattern\.detail\.status: the content filter "prefix" is not supported by local mode/,
    );
    expect(() => assertSupportedPattern({ $or: [] })).toThrow(EventBridgeError);
    expect(() => assertSupportedPattern({ source: 'aws.states' })).toThrow(/must be arrays or objects/);
  });
});

describe('the local event bus', () => {
  const rule = (invoke: (e: unknown) => Promise<void>, dead: unknown[][]) =>
    localEventRules(
      [
        [
          'ExecutionStatusChanges',
          {
            EventPattern: BATON_RULE,
            Targets: [
              {
                Arn: FN,
                Id: 'Target0',
                RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
                DeadLetterConfig: { Arn: DLQ },
              },
            ],
          },
        ],
      ],
      {
        invokeFunction: async (arn, e) => {
          expect(arn).toBe(FN);
          await invoke(e);
        },
        sendToQueue: async (queueArn, body, attributes) => {
          dead.push([queueArn, JSON.parse(body), attributes]);
        },
      },
    );

  it('invokes the target of a matching rule, retries it, and dead-letters what keeps failing', async () => {
    // Prepare: a target that fails twice, then one that always fails
    let calls = 0;
    const dead: unknown[][] = [];
    const flaky = new LocalEventBus({
      ...WHERE,
      rules: rule(async () => {
        calls += 1;
        if (calls <= 2) throw new Error(`down ${calls}`);
      }, dead),
      retryDelayMs: () => 1,
    });
    const broken = new LocalEventBus({
      ...WHERE,
      rules: rule(async () => {
        throw Object.assign(new Error('still down'), { name: 'Lambda.ServiceException' });
      }, dead),
      retryDelayMs: () => 1,
    });

    // Act
    await flaky.put(event('ABORTED'));
    await flaky.put(event('SUCCEEDED')); // no rule matches: nothing is invoked
    await broken.put(event('TIMED_OUT'));

    // Assess
    expect(calls).toBe(3);
    expect(dead).toEqual([
      [
        DLQ,
        event('TIMED_OUT'),
        {
          RULE_ARN: 'ExecutionStatusChanges',
          TARGET_ARN: FN,
          ERROR_CODE: 'Lambda.ServiceException',
          ERROR_MESSAGE: 'still down',
        },
      ],
    ]);
  });

  it('stops retrying when it closes: the put rejects, so the caller keeps the event', async () => {
    const bus = new LocalEventBus({
      ...WHERE,
      rules: rule(async () => {
        throw new Error('down');
      }, []),
      retryDelayMs: () => 60_000,
    });
    const put = bus.put(event('FAILED'));
    await new Promise((r) => setTimeout(r, 20));
    bus.close();
    await expect(put).rejects.toBeInstanceOf(EventBusClosedError);
    await expect(bus.put(event('FAILED'))).rejects.toBeInstanceOf(EventBusClosedError);
  });

  it('refuses rules local mode does not emulate', () => {
    const endpoints = { invokeFunction: async () => {}, sendToQueue: async () => {} };
    expect(() =>
      localEventRules(
        [['R', { EventPattern: BATON_RULE, Targets: [{ Arn: 'arn:aws:sns:us-east-1:1:topic', Id: 'T' }] }]],
        endpoints,
      ),
    ).toThrow(/only Lambda targets are emulated/);
    expect(() => localEventRules([['R', { ScheduleExpression: 'cron(0 12 * * ? *)' }]], endpoints)).toThrow(
      /only rate\(N unit\) schedules are emulated/,
    );
    expect(localEventRules([['R', { State: 'DISABLED', EventPattern: BATON_RULE }]], endpoints)).toEqual([]);
  });
});

describe('scheduled rules', () => {
  it('reads rate expressions as EventBridge writes them, and refuses the rest', () => {
    // Assess
    expect(parseRate('rate(1 minute)', 'R')).toBe(60_000);
    expect(parseRate('rate(5 minutes)', 'R')).toBe(300_000);
    expect(parseRate('rate(2 days)', 'R')).toBe(172_800_000);
    for (const bad of [
      'rate(1 minutes)',
      'rate(5 minute)',
      'rate(0 minutes)',
      'rate(1 week)',
      'cron(0 * * * ? *)',
    ])
      expect(() => parseRate(bad, 'R'), bad).toThrow(EventBridgeError);
  });

  it('fires a scheduled rule’s target with a Scheduled Event naming the rule, and never on put', async () => {
    // Prepare
    const got: unknown[] = [];
    const rules = localEventRules(
      [
        [
          'Sweep',
          {
            ScheduleExpression: 'rate(1 minute)',
            Targets: [{ Arn: FN, Id: 'T', RetryPolicy: { MaximumRetryAttempts: 0 } }],
          },
        ],
      ],
      { invokeFunction: async (_arn, e) => void got.push(e), sendToQueue: async () => {} },
      { Sweep: 'arn:aws:events:us-east-1:123456789012:rule/Sweep' },
    );
    const bus = new LocalEventBus({ rules, ...WHERE });

    // Act
    await bus.put(event('FAILED'));
    await bus.runScheduled();
    bus.close();

    // Assess
    expect(got).toEqual([
      expect.objectContaining({
        source: 'aws.events',
        'detail-type': 'Scheduled Event',
        account: '123456789012',
        region: 'us-east-1',
        resources: ['arn:aws:events:us-east-1:123456789012:rule/Sweep'],
        detail: {},
      }),
    ]);
  });

  it('ticks once at start, then on its rate', async () => {
    // Prepare
    const got: unknown[] = [];
    const rules = localEventRules(
      [['Sweep', { ScheduleExpression: 'rate(1 hour)', Targets: [{ Arn: FN, Id: 'T' }] }]],
      { invokeFunction: async (_arn, e) => void got.push(e), sendToQueue: async () => {} },
      {},
    );
    const bus = new LocalEventBus({ rules, ...WHERE });

    // Act
    bus.startSchedules();
    await new Promise((r) => setTimeout(r, 50));
    bus.close();

    // Assess: the first tick came at start, long before the hour
    expect(got).toEqual([expect.objectContaining({ 'detail-type': 'Scheduled Event' })]);
  });
});

describe('status change events of the local Step Functions', () => {
  let dataDir: string;
  const services: LocalStepFunctions[] = [];
  const start = (onStatusChange?: (e: ExecutionStatusChange) => Promise<void>) => {
    const sfn = new LocalStepFunctions({ dataDir, invokeLambda: async () => ({}), onStatusChange });
    sfn.registerStateMachine(SM_ARN, {
      StartAt: 'Choose',
      States: {
        Choose: {
          Type: 'Choice',
          Choices: [
            { Variable: '$.end', StringEquals: 'fail', Next: 'Fail' },
            { Variable: '$.end', StringEquals: 'wait', Next: 'Wait' },
          ],
          Default: 'Done',
        },
        Wait: { Type: 'Wait', Seconds: 30, Next: 'Done' },
        Fail: { Type: 'Fail', Error: 'Test.Failed', Cause: 'as asked' },
        Done: { Type: 'Succeed' },
      },
      TimeoutSeconds: 1,
    });
    services.push(sfn);
    return sfn;
  };
  const collector = () => {
    const seen: ExecutionStatusChange[] = [];
    return { seen, sink: async (e: ExecutionStatusChange) => void seen.push(e) };
  };
  const run = async (sfn: LocalStepFunctions, name: string, end: string) => {
    await sfn.handle('StartExecution', { stateMachineArn: SM_ARN, name, input: JSON.stringify({ end }) });
  };

  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'baton-sfn-events-'));
  });
  afterEach(async () => {
    for (const sfn of services.splice(0)) await sfn.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('emits RUNNING and the terminal status of every execution, in AWS’s envelope', async () => {
    // Prepare
    const { seen, sink } = collector();
    const sfn = start(sink);

    // Act: one of each ending
    await run(sfn, 'ok', 'done');
    await run(sfn, 'bad', 'fail');
    await run(sfn, 'late', 'wait'); // the execution's TimeoutSeconds (1) ends it
    await run(sfn, 'stopped', 'wait');
    await sfn.handle('StopExecution', {
      executionArn: execArn('stopped'),
      error: 'Op.Stop',
      cause: 'by hand',
    });
    await sfn.idle();

    // Assess: every event parses with the schema the reconciler uses
    for (const e of seen) expect(ExecutionStatusChange.parse(e)).toEqual(e);
    const byName = (name: string) => seen.filter((e) => e.detail.name === name).map((e) => e.detail);
    expect(byName('ok').map((d) => d.status)).toEqual(['RUNNING', 'SUCCEEDED']);
    expect(byName('bad')[1]).toMatchObject({ status: 'FAILED', error: 'Test.Failed', cause: 'as asked' });
    expect(byName('late')[1]).toMatchObject({ status: 'TIMED_OUT', error: 'States.Timeout' });
    expect(byName('stopped')[1]).toMatchObject({ status: 'ABORTED', error: 'Op.Stop', cause: 'by hand' });
    const stopped = seen.find((e) => e.detail.name === 'stopped' && e.detail.status === 'ABORTED');
    expect(stopped).toMatchObject({
      version: '0',
      'detail-type': 'Step Functions Execution Status Change',
      source: 'aws.states',
      account: '123456789012',
      region: 'us-east-1',
      resources: [execArn('stopped')],
      detail: {
        executionArn: execArn('stopped'),
        stateMachineArn: SM_ARN,
        input: JSON.stringify({ end: 'wait' }),
        output: null,
        startDate: expect.any(Number),
        stopDate: expect.any(Number),
      },
    });
    expect(matchesPattern(BATON_RULE, stopped)).toBe(true);
    expect(byName('ok')[1]?.output).toBe('{"end":"done"}');
  });

  it('keeps an event it could not deliver in the execution’s file and sends it after a restart', async () => {
    // Prepare: EventBridge is down while the execution fails
    const down = start(async () => {
      throw new Error('bus down');
    });
    await run(down, 'bad', 'fail');
    await down.idle();
    await down.close();
    const [file] = await readdir(path.join(dataDir, 'executions'));
    const saved = JSON.parse(await readFile(path.join(dataDir, 'executions', file as string), 'utf8'));
    expect(saved.statusEvents.map((e: ExecutionStatusChange) => e.detail.status)).toEqual([
      'RUNNING',
      'FAILED',
    ]);

    // Act: the next process starts
    const { seen, sink } = collector();
    const next = start(sink);
    await next.resumeInterrupted();
    await next.idle();

    // Assess: both went out once, with the ids they had, and the file no longer holds them
    expect(seen.map((e) => [e.id, e.detail.status])).toEqual(
      saved.statusEvents.map((e: ExecutionStatusChange) => [e.id, e.detail.status]),
    );
    const after = JSON.parse(await readFile(path.join(dataDir, 'executions', file as string), 'utf8'));
    expect(after.statusEvents).toEqual([]);
  });
});
