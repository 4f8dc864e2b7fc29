/**
 * A fan-out step (`forEach`) after its gates: its agent runs once per item, in the child
 * executions of a Distributed Map, so neither the 256 KB state limit nor the parent's 25,000
 * history events are reachable from the number of items:
 *
 *   PrepareItems (λ: the items object in S3, its references) ─▶ Items?
 *     ├─ run ─▶ RunItems (Distributed Map: ItemReader on the items object, ItemBatcher, MaxConcurrencyPath,
 *     │           ToleratedFailurePercentagePath, ResultWriter to the artifact bucket) ─▶ CollectItems ─▶ StepDone
 *     │           Catch (States.ExceedToleratedFailureThreshold, anything) ─▶ CollectFailedItems ─▶ StepDone
 *     ├─ collect (nothing to run) ─▶ CollectNoItems ─▶ StepDone
 *     └─ otherwise (PrepareItems failed the step) ─▶ StepDone
 *   one child execution (a batch of `{ index, item }`, `forEach.itemsPerBatch`, default 1):
 *     RunItemBatch (the item runner λ, the step's TimeoutSeconds) ■
 *       Catch ─▶ ItemsFailed (λ: the step's retry policy) ─▶ RetryItems? ── retry ─▶ ItemsBackoff ─▶ NextItemsAttempt ─▶ RunItemBatch
 *                                                                     └─ otherwise ─▶ ItemsGaveUp (Fail: the batch's error)
 * The CollectItems states record the step's outcome and release its dependents (lambdas/orchestrator/fanout.ts).
 */
import { Aws, cx_api as cxapi, Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { z } from 'zod';
import { WORKFLOW_TIMING } from '../../lambdas/core/bounds.js';
import { LAMBDA_SERVICE_ERRORS, STATES_ERRORS } from '../../lambdas/core/errors.js';
import { FanOutItem } from '../../lambdas/core/fanout.js';
import {
  CaughtError,
  CollectItemsContract,
  ItemBatchInput,
  ItemsFailedContract,
  ItemsFailureDecision,
  ItemsResult,
  PrepareItemsContract,
  RunItemsContract,
} from '../../lambdas/core/states.js';
import { equals, executionTraceId, payload, Ref, selectResult, step, stepRef } from './contract.js';
import { LambdaTask } from './lambda-task.js';
import { STATE } from './names.js';

export interface FanOutFunctions {
  prepareItems: IFunction;
  /** The item runner (lambdas/agents/item-runner.ts): what each child execution invokes. */
  itemRunner: IFunction;
  itemsFailed: IFunction;
  collectItems: IFunction;
}

/**
 * What the state machine's role may do in the artifact bucket for its Distributed Maps (the
 * ItemReader's GetObject of the items object, the ResultWriter's PutObject of its files under
 * the results prefix; lambdas/core/fanout.ts names the keys): object key patterns.
 */
export const FAN_OUT_OBJECTS = {
  items: 'tasks/*/steps/*/*/fanout/items.json',
  results: 'tasks/*/steps/*/*/fanout/results/*',
} as const;

/** Grants a state machine's role what its fan-out steps' Distributed Maps do in the bucket. */
export function grantFanOutObjects(role: iam.IGrantable, bucket: IBucket): void {
  role.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['s3:GetObject'],
      resources: [bucket.arnForObjects(FAN_OUT_OBJECTS.items)],
    }),
  );
  role.grantPrincipal.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['s3:PutObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload'],
      resources: [bucket.arnForObjects(FAN_OUT_OBJECTS.results)],
    }),
  );
}

/**
 * The ResultWriter of a bucket given by path. The CDK would grant the state machine s3:PutObject
 * and GetObject on every bucket ("*") for it; this one grants nothing, and the stack grants
 * exactly the results prefix of the artifact bucket (grantFanOutObjects).
 */
class ScopedResultWriter extends sfn.ResultWriterV2 {
  override providePolicyStatements(): iam.PolicyStatement[] {
    return [];
  }
}

export interface FanOutProps {
  functions: FanOutFunctions;
  /** Where every path ends (the iteration's StepDone). */
  done: sfn.IChainable;
}

/** One child execution's state: the ItemBatcher's `Items` and `BatchInput`, and what its states add. */
export const ItemBatchState = z.object({
  Items: z.array(FanOutItem),
  BatchInput: ItemBatchInput.extend({ itemAttempt: z.number().int().min(1) }),
  error: CaughtError.optional(),
  decision: ItemsFailureDecision.optional(),
  decisionError: CaughtError.optional(),
  /** RunItemBatch's result: the child execution's output. */
  batchResult: ItemsResult.optional(),
});
const batch = Ref.of(ItemBatchState, '$');
const batchInput = batch.at('BatchInput');

/** The child workflow: one batch, with the step's retry policy (decided by ItemsFailed) and its timeout. */
class ItemBatch extends sfn.StateMachineFragment {
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[] = [];

  constructor(scope: Construct, id: string, fns: FanOutFunctions) {
    super(scope, id);
    const refs = {
      taskId: batchInput.at('taskId'),
      run: batchInput.at('run'),
      stepId: batchInput.at('stepId'),
      attempt: batchInput.at('attempt'),
      traceId: batchInput.at('traceId'),
    };
    const run = new sfn.CustomState(this, STATE.runItemBatch, {
      stateJson: {
        Type: 'Task',
        Resource: `arn:${Aws.PARTITION}:states:::lambda:invoke`,
        Parameters: {
          FunctionName: fns.itemRunner.functionArn,
          Payload: sfn.FieldUtils.renderObject(
            payload(RunItemsContract.input, {
              ...refs,
              agentFunction: batchInput.at('agentFunction'),
              timeoutSeconds: batchInput.at('timeoutSeconds'),
              itemAttempt: batchInput.at('itemAttempt'),
              items: batch.at('Items'),
            }),
          ),
        },
        // The step's own timeout, per item (per batch: a batch's items run at once).
        TimeoutSecondsPath: batchInput.at('timeoutSeconds').path,
        // The child's output: what the ResultWriter writes for CollectItems (results only). A
        // ResultPath and an OutputPath rather than ResultPath "$" (the local engine's library
        // reads that as a key named "$"; both mean the same in AWS).
        ResultSelector: selectResult(RunItemsContract.output),
        ResultPath: batch.at('batchResult').path,
        OutputPath: batch.at('batchResult').path,
      },
    });
    run.addRetry({
      errors: LAMBDA_SERVICE_ERRORS,
      interval: Duration.seconds(WORKFLOW_TIMING.serviceRetry.intervalSeconds),
      maxAttempts: WORKFLOW_TIMING.serviceRetry.maxAttempts,
      backoffRate: WORKFLOW_TIMING.serviceRetry.backoffRate,
      jitterStrategy: sfn.JitterType.FULL,
    });
    const failed = new LambdaTask(this, STATE.itemsFailed, {
      fn: fns.itemsFailed,
      contract: ItemsFailedContract,
      payload: {
        ...refs,
        itemAttempt: batchInput.at('itemAttempt'),
        indexes: Ref.of(z.array(z.number().int()), '$.Items[*].index'),
        error: batch.at('error'),
      },
      result: { at: batch.at('decision') },
    });
    run.addCatch(failed, { errors: [STATES_ERRORS.All], resultPath: batch.at('error').path });
    const decision = batch.at('decision');
    // The batch fails with its own error (what ItemsFailed read from the Catch), which the
    // ResultWriter records for each of its items.
    const gaveUp = new sfn.Fail(this, STATE.itemsGaveUp, {
      errorPath: sfn.JsonPath.stringAt(decision.at('error').path),
      causePath: sfn.JsonPath.stringAt(decision.at('cause').path),
    });
    // ItemsFailed itself failed: the items are not recorded as events, the ResultWriter still has them.
    const unrecorded = new sfn.Fail(this, STATE.itemsFailureUnrecorded, {
      errorPath: sfn.JsonPath.stringAt(batch.at('error').at('Error').path),
    });
    failed.addCatch(unrecorded, { errors: [STATES_ERRORS.All], resultPath: batch.at('decisionError').path });
    const backoff = new sfn.Wait(this, STATE.itemsBackoff, {
      time: sfn.WaitTime.secondsPath(decision.at('waitSeconds').path),
    });
    const next = new sfn.Pass(this, STATE.nextItemsAttempt, {
      inputPath: decision.at('nextAttempt').path,
      resultPath: batchInput.at('itemAttempt').path,
    });
    failed.next(
      new sfn.Choice(this, STATE.retryItems)
        .when(equals(decision.at('retry'), true), backoff.next(next).next(run))
        .otherwise(gaveUp),
    );
    this.startState = run;
  }
}

export class FanOut extends sfn.StateMachineFragment {
  readonly startState: sfn.State;
  readonly endStates: sfn.INextable[] = [];

  constructor(scope: Construct, id: string, props: FanOutProps) {
    super(scope, id);
    // ResultWriterV2 (a bucket by path) renders only under its feature flag: set for this fragment alone.
    this.node.setContext(cxapi.STEPFUNCTIONS_USE_DISTRIBUTED_MAP_RESULT_WRITER_V2, true);
    const { functions: fns, done } = props;
    const attemptRef = { ...stepRef, attempt: step.at('attempt') };
    const items = step.at('items');

    const prepare = new LambdaTask(this, STATE.prepareItems, {
      fn: fns.prepareItems,
      contract: PrepareItemsContract,
      payload: attemptRef,
      result: { at: items },
    });
    const collect = (
      name: string,
      extra: { manifestKey?: Ref<z.ZodString>; error?: Ref<typeof CaughtError> },
    ) =>
      new LambdaTask(this, name, {
        fn: fns.collectItems,
        contract: CollectItemsContract,
        payload: { ...attemptRef, ...extra },
      }).next(done);

    const runItems = new sfn.DistributedMap(this, STATE.runItems, {
      // The bucket by path: the CDK then grants nothing on it, and the stack grants the state
      // machine exactly the fan-out objects (FAN_OUT_OBJECTS), not the whole artifact bucket.
      itemReader: new sfn.S3JsonItemReader({
        bucketNamePath: sfn.JsonPath.stringAt(items.at('bucket').path),
        key: sfn.JsonPath.stringAt(items.at('key').path),
      }),
      itemBatcher: new sfn.ItemBatcher({
        maxItemsPerBatchPath: items.at('itemsPerBatch').path,
        // ItemBatcher's BatchInput is not rendered as a payload by the CDK: render its paths here.
        batchInput: sfn.FieldUtils.renderObject(
          payload(ItemBatchState.shape.BatchInput, {
            taskId: step.at('taskId'),
            run: step.at('run'),
            stepId: step.at('stepId'),
            attempt: step.at('attempt'),
            agentFunction: step.at('agentFunction'),
            timeoutSeconds: step.at('timeoutSeconds'),
            traceId: executionTraceId,
            itemAttempt: 1,
          }),
        ) as object,
      }),
      maxConcurrencyPath: items.at('maxConcurrency').path,
      toleratedFailurePercentagePath: items.at('toleratedFailurePercentage').path,
      resultWriterV2: new ScopedResultWriter({
        bucketNamePath: sfn.JsonPath.stringAt(items.at('bucket').path),
        prefix: sfn.JsonPath.stringAt(items.at('resultPrefix').path),
      }),
      mapExecutionType: sfn.StateMachineType.STANDARD,
      resultSelector: { 'manifestKey.$': '$.ResultWriterDetails.Key' },
      resultPath: step.at('itemsRun').path,
    });
    runItems.itemProcessor(new ItemBatch(this, 'ItemBatch', fns));
    // Over the tolerance (States.ExceedToleratedFailureThreshold) or any other failure of the map run:
    // CollectItems records what ran and fails the step; its dependents skip.
    const collectFailed = collect(STATE.collectFailedItems, { error: step.at('itemsError') });
    for (const errors of [[STATES_ERRORS.ExceedToleratedFailureThreshold], [STATES_ERRORS.All]])
      runItems.addCatch(collectFailed, { errors, resultPath: step.at('itemsError').path });
    runItems.next(collect(STATE.collectItems, { manifestKey: step.at('itemsRun').at('manifestKey') }));

    prepare.next(
      new sfn.Choice(this, STATE.itemsReady)
        .when(equals(items.at('next'), 'run'), runItems)
        .when(equals(items.at('next'), 'collect'), collect(STATE.collectNoItems, {}))
        .otherwise(done),
    );
    this.startState = prepare;
  }
}
