/**
 * Operating Baton: a CloudWatch dashboard and the alarms an operator is paged by, all sending to
 * one SNS topic (KMS-encrypted with a key CloudWatch may use; subscribe e-mail, chat or paging).
 *
 * Alarms (each `>= 1` over its period; missing data is not breaching):
 * - the state machine's ExecutionsFailed and ExecutionsTimedOut (5 minutes, sum);
 * - every dead-letter queue not empty (ApproximateNumberOfMessagesVisible, 1 minute, maximum);
 * - every function's Errors and Throttles (5 minutes, sum);
 * - the HTTP API's 5xx (5 minutes, sum);
 * - ApprovalsNearExpiry (Baton namespace, published every minute by the intake sweeper: PENDING
 *   approvals expiring within the hour; 5 minutes, maximum).
 * The dashboard shows the Baton metrics (lambdas/core/metrics.ts) beside the services' own.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRIC_NAMESPACE } from '../../lambdas/core/telemetry.js';

export interface BatonObservabilityProps {
  stateMachine: sfn.IStateMachine;
  /** Dead-letter queues by a name for their alarm (e.g. `IntakeDeadLetters`). */
  deadLetterQueues: Record<string, sqs.IQueue>;
  /** The functions whose Errors and Throttles raise alarms, by a name for their alarms. */
  functions: Record<string, lambda.IFunction>;
  api: apigw.IHttpApi;
  /** Dashboard name (default: `<stack name>-baton`). */
  dashboardName?: string;
}

const FIVE_MINUTES = Duration.minutes(5);

export class BatonObservability extends Construct {
  /** Where every alarm sends (ALARM and OK). */
  readonly alarmTopic: sns.Topic;
  readonly dashboard: cw.Dashboard;
  readonly alarms: cw.Alarm[] = [];

  constructor(scope: Construct, id: string, props: BatonObservabilityProps) {
    super(scope, id);
    if (Object.keys(props.functions).length === 0)
      throw new Error('BatonObservability needs the functions to watch (props.functions is empty).');

    // CloudWatch publishes to an encrypted topic only with a customer managed key it may use.
    const key = new kms.Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the Baton alarm topic',
      enableKeyRotation: true,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Baton alarms',
      masterKey: key,
      enforceSSL: true,
    });
    const action = new cwActions.SnsAction(this.alarmTopic);
    const alarm = (name: string, metric: cw.IMetric, description: string) => {
      const a = new cw.Alarm(this, name, {
        alarmDescription: description,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(action);
      a.addOkAction(action);
      this.alarms.push(a);
      return a;
    };

    const sum = { period: FIVE_MINUTES, statistic: cw.Stats.SUM };
    const failed = props.stateMachine.metricFailed(sum);
    const timedOut = props.stateMachine.metricTimedOut(sum);
    alarm(
      'ExecutionsFailed',
      failed,
      'Baton executions failed (their tasks are FAILED, see GET /dead-letters)',
    );
    alarm('ExecutionsTimedOut', timedOut, 'Baton executions timed out (the reconciler fails their tasks)');
    const dlqDepth = Object.entries(props.deadLetterQueues).map(([name, q]) => {
      // (No label on an alarm's metric: CloudFormation would get a metric-math alarm.)
      const depth = q.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cw.Stats.MAXIMUM,
      });
      alarm(`${name}NotEmpty`, depth, `The dead-letter queue ${name} has messages`);
      return depth.with({ label: name });
    });
    const errors: cw.IMetric[] = [];
    const throttles: cw.IMetric[] = [];
    for (const [name, fn] of Object.entries(props.functions)) {
      const e = fn.metricErrors(sum);
      const t = fn.metricThrottles(sum);
      alarm(`${name}Errors`, e, `The ${name} function reported errors`);
      alarm(`${name}Throttles`, t, `The ${name} function was throttled`);
      errors.push(e.with({ label: name }));
      throttles.push(t.with({ label: name }));
    }
    const api5xx = props.api.metricServerError(sum);
    alarm('Api5xx', api5xx, 'The Baton HTTP API answered 5xx');
    const nearExpiry = baton('ApprovalsNearExpiry', cw.Stats.MAXIMUM);
    alarm(
      'ApprovalsNearExpiry',
      nearExpiry,
      'Approvals are pending that expire within the hour (their gates then reject or escalate)',
    );

    this.dashboard = new cw.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? `${Stack.of(this).stackName}-baton`,
      defaultInterval: Duration.hours(3),
    });
    const outcomes = ['SUCCEEDED', 'DEGRADED', 'FAILED', 'CANCELLED'].map((outcome) =>
      baton('TasksCompleted', cw.Stats.SUM, { outcome }, outcome),
    );
    this.dashboard.addWidgets(
      graph('Tasks by outcome', outcomes),
      graph('Executions', [
        props.stateMachine.metricStarted({ ...sum, label: 'started' }),
        props.stateMachine.metricSucceeded({ ...sum, label: 'succeeded' }),
        failed.with({ label: 'failed' }),
        timedOut.with({ label: 'timed out' }),
      ]),
      graph('Dead letters', [baton('DeadLetters', cw.Stats.SUM, {}, 'recorded'), ...dlqDepth]),
    );
    this.dashboard.addWidgets(
      graph('Step duration by agent (p90, ms)', [search('StepDuration', ['agent'], 'p90')]),
      graph('Step attempts by agent (average)', [search('StepAttempts', ['agent'], 'Average')]),
      graph('Approval wait (s) and approvals near expiry', [
        search('ApprovalWait', ['kind'], 'Average'),
        nearExpiry.with({ label: 'near expiry' }),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Input tokens by agent and model', [search('InputTokens', ['agent', 'model'], 'Sum')]),
      graph('Output tokens by agent and model', [search('OutputTokens', ['agent', 'model'], 'Sum')]),
      graph('Estimated cost (USD) by agent and model', [search('EstimatedCost', ['agent', 'model'], 'Sum')]),
    );
    this.dashboard.addWidgets(
      graph('Lambda errors', errors),
      graph('Lambda throttles', throttles),
      graph('API', [
        props.api.metricClientError({ ...sum, label: '4xx' }),
        api5xx.with({ label: '5xx' }),
        props.api.metricLatency({ period: FIVE_MINUTES, statistic: 'p90', label: 'latency p90 (ms)' }),
      ]),
    );
    this.dashboard.addWidgets(
      new cw.AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 6 }),
    );
  }
}

/** A metric of the Baton namespace (EMF, lambdas/core/metrics.ts). */
function baton(name: string, statistic: string, dimensions: Record<string, string> = {}, label?: string) {
  return new cw.Metric({
    namespace: METRIC_NAMESPACE,
    metricName: name,
    dimensionsMap: dimensions,
    statistic,
    period: FIVE_MINUTES,
    ...(label ? { label } : {}),
  });
}

/** Every series of a Baton metric by its dimensions (one line per agent, model, ...). */
function search(name: string, dimensions: string[], statistic: string): cw.IMetric {
  return new cw.MathExpression({
    expression: `SEARCH('{${METRIC_NAMESPACE},${dimensions.join(',')}} MetricName="${name}"', '${statistic}', 300)`,
    usingMetrics: {},
    label: name,
    period: FIVE_MINUTES,
  });
}

function graph(title: string, metrics: cw.IMetric[]): cw.GraphWidget {
  return new cw.GraphWidget({ title, left: metrics, width: 8, height: 6 });
}
