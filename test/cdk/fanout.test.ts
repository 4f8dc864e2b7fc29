/**
 * Fan-out steps in the synthesized definition (lib/workflow/fan-out.ts): the Distributed Map with
 * its ItemReader, ItemBatcher, tolerance and ResultWriter, all by reference to what PrepareItems
 * returned; the child workflow's per-batch retry; the failure paths; the functions' grants.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { STATES_ERRORS } from '../../lambdas/core/errors.js';
import { STATE } from '../../lib/workflow/definition.js';
import { type Asl, synthStack } from './synth.js';

const { template, iteration } = synthStack();
const map = iteration.States[STATE.runItems] as Record<string, unknown> & { ItemProcessor: Asl };
const child = map.ItemProcessor;

describe('a fan-out step in the definition', () => {
  it('routes a fan-out step (and its approval gate) to PrepareItems, others to RunAgent', () => {
    const gate = iteration.States[STATE.awaitDependencies] as { Next: string; Catch: { Next: string }[] };
    expect(gate.Catch.map((c) => c.Next)).toEqual([
      STATE.stepDone,
      STATE.requestApproval,
      STATE.prepareItems,
      STATE.requestItemsApproval,
      STATE.gateFailed,
    ]);
    expect(gate.Next).toBe(STATE.runAgent);
    expect(iteration.States[STATE.requestItemsApproval]?.Next).toBe(STATE.prepareItems);
    expect(iteration.States[STATE.itemsReady]).toMatchObject({
      Choices: [
        { Variable: '$.items.next', StringEquals: 'run', Next: STATE.runItems },
        { Variable: '$.items.next', StringEquals: 'collect', Next: STATE.collectNoItems },
      ],
      Default: STATE.stepDone,
    });
  });

  it('runs the items as a Distributed Map: ItemReader, ItemBatcher, concurrency, tolerance and ResultWriter from PrepareItems', () => {
    expect(map).toMatchObject({
      Type: 'Map',
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' } },
      ItemReader: {
        Resource: 'arn:aws:states:::s3:getObject',
        ReaderConfig: { InputType: 'JSON' },
        Parameters: { 'Bucket.$': '$.items.bucket', 'Key.$': '$.items.key' },
      },
      ItemBatcher: {
        MaxItemsPerBatchPath: '$.items.itemsPerBatch',
        BatchInput: {
          'taskId.$': '$.taskId',
          'run.$': '$.run',
          'stepId.$': '$.stepId',
          'attempt.$': '$.attempt',
          'agentFunction.$': '$.agentFunction',
          'timeoutSeconds.$': '$.timeoutSeconds',
          'traceId.$': '$$.Execution.Input.traceId',
          itemAttempt: 1,
        },
      },
      MaxConcurrencyPath: '$.items.maxConcurrency',
      ToleratedFailurePercentagePath: '$.items.toleratedFailurePercentage',
      ResultWriter: {
        Resource: 'arn:aws:states:::s3:putObject',
        Parameters: { 'Bucket.$': '$.items.bucket', 'Prefix.$': '$.items.resultPrefix' },
      },
      // only the manifest's key goes on in the execution state
      ResultSelector: { 'manifestKey.$': '$.ResultWriterDetails.Key' },
      ResultPath: '$.itemsRun',
      Next: STATE.collectItems,
    });
  });

  it('sends a map over its tolerance (or failed otherwise) to CollectFailedItems, which fails the step', () => {
    expect(map.Catch).toEqual([
      {
        ErrorEquals: [STATES_ERRORS.ExceedToleratedFailureThreshold],
        ResultPath: '$.itemsError',
        Next: STATE.collectFailedItems,
      },
      { ErrorEquals: [STATES_ERRORS.All], ResultPath: '$.itemsError', Next: STATE.collectFailedItems },
    ]);
    for (const name of [STATE.collectItems, STATE.collectFailedItems, STATE.collectNoItems])
      expect(iteration.States[name]?.Next, name).toBe(STATE.stepDone);
    expect(iteration.States[STATE.collectFailedItems]?.Parameters?.Payload).toMatchObject({
      'error.$': '$.itemsError',
    });
    expect(iteration.States[STATE.collectItems]?.Parameters?.Payload).toMatchObject({
      'manifestKey.$': '$.itemsRun.manifestKey',
    });
  });

  it("runs each batch on the item runner with the step's timeout, retried per batch by ItemsFailed", () => {
    expect(child.StartAt).toBe(STATE.runItemBatch);
    expect(child.States[STATE.runItemBatch]).toMatchObject({
      TimeoutSecondsPath: '$.BatchInput.timeoutSeconds',
      Parameters: { Payload: { 'items.$': '$.Items', 'itemAttempt.$': '$.BatchInput.itemAttempt' } },
      ResultSelector: { 'results.$': '$.Payload.results' },
      ResultPath: '$.batchResult',
      OutputPath: '$.batchResult',
      End: true,
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATE.itemsFailed }],
    });
    const invoked = child.States[STATE.runItemBatch]?.Parameters as { FunctionName: string } | undefined;
    expect(String(invoked?.FunctionName)).toMatch(/ItemRunner/);
    expect(child.States[STATE.itemsFailed]).toMatchObject({
      Parameters: { Payload: { 'indexes.$': '$.Items[*].index', 'error.$': '$.error' } },
      ResultPath: '$.decision',
      Next: STATE.retryItems,
    });
    expect(child.States[STATE.retryItems]).toMatchObject({
      Choices: [{ Variable: '$.decision.retry', BooleanEquals: true, Next: STATE.itemsBackoff }],
      Default: STATE.itemsGaveUp,
    });
    expect(child.States[STATE.itemsBackoff]).toMatchObject({ SecondsPath: '$.decision.waitSeconds' });
    expect(child.States[STATE.nextItemsAttempt]).toMatchObject({
      InputPath: '$.decision.nextAttempt',
      ResultPath: '$.BatchInput.itemAttempt',
      Next: STATE.runItemBatch,
    });
    expect(child.States[STATE.itemsGaveUp]).toEqual({
      Type: 'Fail',
      ErrorPath: '$.decision.error',
      CausePath: '$.decision.cause',
    });
  });

  it('gives the state machine exactly the fan-out objects of the bucket and its own child executions', () => {
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 's3:GetObject',
            Resource: { 'Fn::Join': ['', [Match.anyValue(), '/tasks/*/steps/*/*/fanout/items.json']] },
          }),
          Match.objectLike({
            Action: ['s3:PutObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
            Resource: { 'Fn::Join': ['', [Match.anyValue(), '/tasks/*/steps/*/*/fanout/results/*']] },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('DistributedMapPolicy'),
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'states:StartExecution' })]),
      },
    });
  });
});
