/**
 * cdk-nag (AwsSolutions) acknowledgements for the Baton stack, each with its reason. cdk-nag 3
 * uses CDK's native `Validations.of(...).acknowledge()`; every finding id is listed exactly.
 */
import { type CfnResource, type Stack, Token, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { FAN_OUT_OBJECTS } from '../workflow/fan-out.js';
import { TASK_OBJECTS } from './fanout.js';

/** How cdk-nag prints a stack's region or account: the value when concrete, else the pseudo parameter. */
const pseudo = (value: string, name: string) => (Token.isUnresolved(value) ? `<${name}>` : value);

const logicalId = (stack: Stack, c: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(c.node.defaultChild as CfnResource);

export function acknowledgeNagFindings(stack: Stack): void {
  const ack = (id: string, reason: string) => Validations.of(stack).acknowledge({ id, reason });
  const all = stack.node.findAll();

  ack(
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    'The AWS managed basic execution role only grants writing the function’s own CloudWatch logs.',
  );
  ack(
    'AwsSolutions-IAM5[Resource::*]',
    'X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no resource-level permissions.',
  );
  ack(
    'AwsSolutions-L1',
    'Lambda runs Node.js 22 by product decision; local mode and the tests run the same major version.',
  );
  for (const action of ['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*']) {
    ack(
      `AwsSolutions-IAM5[Action::${action}]`,
      'CDK grant on the artifact bucket only (grantRead / grantReadWrite).',
    );
  }
  for (const bucket of all.filter((c): c is s3.Bucket => c instanceof s3.Bucket)) {
    ack(
      `AwsSolutions-IAM5[Resource::<${logicalId(stack, bucket)}.Arn>/*]`,
      'Objects of the artifact bucket: keys are per task and step, created at run time.',
    );
  }
  // ---- fan-out steps (lib/aws/fanout.ts, lib/workflow/fan-out.ts)
  for (const bucket of all.filter((c): c is s3.Bucket => c instanceof s3.Bucket)) {
    const arn = `<${logicalId(stack, bucket)}.Arn>`;
    ack(
      `AwsSolutions-IAM5[Resource::${arn}/${TASK_OBJECTS}]`,
      'Task objects of the artifact bucket (PrepareItems, CollectItems, the item runner): keys are per task, step and attempt, created at run time.',
    );
    for (const pattern of Object.values(FAN_OUT_OBJECTS))
      ack(
        `AwsSolutions-IAM5[Resource::${arn}/${pattern}]`,
        'The Distributed Map of a fan-out step reads its items object and writes its ResultWriter files, per task, step and attempt: only those keys.',
      );
  }
  for (const table of all.filter((c): c is dynamodb.TableV2 => c instanceof dynamodb.TableV2)) {
    ack(
      `AwsSolutions-IAM5[Resource::<${logicalId(stack, table)}.Arn>/index/*]`,
      'The state store’s own GSIs and LSI (listing by status, events by sequence).',
    );
  }
  for (const fn of all.filter((c): c is lambda.Function => c instanceof lambda.Function)) {
    ack(
      `AwsSolutions-IAM5[Resource::<${logicalId(stack, fn)}.Arn>:*]`,
      'Step Functions invokes the function’s versions and aliases (CDK LambdaInvoke grant).',
    );
  }
  for (const machine of all.filter((c): c is sfn.StateMachine => c instanceof sfn.StateMachine)) {
    // grantExecution names the executions by the state machine's name, split out of its ARN.
    const name = `{"Fn::Select":[6,{"Fn::Split":[":",{"Ref":"${logicalId(stack, machine)}"}]}]}`;
    ack(
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${pseudo(stack.region, 'AWS::Region')}:${pseudo(stack.account, 'AWS::AccountId')}:execution:${name}:*]`,
      'Cancel stops the executions of this state machine only; execution names are per task and run.',
    );
    ack(
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:${pseudo(stack.region, 'AWS::Region')}:${pseudo(stack.account, 'AWS::AccountId')}:execution:${name}/*:*]`,
      'Distributed Maps (fan-out steps) describe, stop and redrive their own child executions (CDK DistributedMapPolicy): names are made up per Map Run.',
    );
  }
  ack(
    'AwsSolutions-SQS3',
    'TaskDeadLetters is itself the dead-letter destination of failed tasks (written by Finalize, read by operators).',
  );
  ack(
    'AwsSolutions-APIG4',
    'GET /healthz (liveness probe) and GET|POST /approvals/{id} (approval links: the expiring HMAC signature in the link is the credential) are open by design; every other route uses IAM auth.',
  );
  // ---- the console (lib/aws/console.ts)
  ack(
    `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-${pseudo(stack.account, 'AWS::AccountId')}-${pseudo(stack.region, 'AWS::Region')}/*]`,
    'The BucketDeployment copies the console’s asset zip from the CDK bootstrap asset bucket (read only; object keys are content hashes).',
  );
  ack(
    'AwsSolutions-CFR1',
    'The console serves static assets to the operator’s own users, who sign in with Cognito; no geographic restriction is part of the product.',
  );
  ack(
    'AwsSolutions-CFR2',
    'The distribution serves only static assets (no origin logic to protect); the API it calls is throttled per stage and route. Attach a WAF web ACL where policy requires one.',
  );
  ack(
    'AwsSolutions-CFR3',
    'Static assets only; every API call the console makes is in the HTTP API’s access logs (ApiAccessLogs).',
  );
  ack(
    'AwsSolutions-CFR4',
    'The console is on the default *.cloudfront.net certificate, whose security policy CloudFront fixes at TLSv1; a custom domain with its certificate (minimumProtocolVersion TLSv1.2_2021) is the way to raise it.',
  );
  ack(
    'AwsSolutions-COG8',
    'Cognito threat protection needs the Plus feature plan (priced per user); the pool is invite-only with TOTP MFA required and 12-character passwords.',
  );
  for (const bucket of all.filter(
    (c): c is s3.Bucket => c instanceof s3.Bucket && c.node.id === 'ArtifactAccessLogs',
  )) {
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the server access log bucket itself.',
    });
  }
}
