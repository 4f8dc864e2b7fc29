/**
 * Local mode reads the synthesized CloudFormation template: the state machine definition,
 * the functions, tables, buckets and queues are what `cdk deploy` would create. This module
 * resolves the intrinsic functions we use. The runtime synthesizes with bundling
 * (lib/local/assembly.ts); `synthTemplate` here synthesizes without (the template only).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import type { AgentEntry } from '../../lambdas/agents/registry.js';
import { BatonError, ErrorNames } from '../../lambdas/core/errors.js';
import { BatonStack } from '../aws/stack.js';

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_STACK = 'Baton';

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
}

/** Synthesizes the Baton stack in process, without bundling: the template only (no runnable bundles). */
export function synthTemplate(agents: Map<string, AgentEntry>): CfnTemplate {
  const outdir = mkdtempSync(join(tmpdir(), 'baton-synth-'));
  // The template validation runs on `cdk synth`; local start-up skips it (it takes seconds).
  const validation = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = 'false';
  try {
    const app = new App({ outdir, context: { 'aws:cdk:bundling-stacks': [] } });
    new BatonStack(app, LOCAL_STACK, { agents, env: { account: LOCAL_ACCOUNT, region: LOCAL_REGION } });
    return app.synth().getStackByName(LOCAL_STACK).template as CfnTemplate;
  } finally {
    if (validation === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = validation;
    rmSync(outdir, { recursive: true, force: true });
  }
}

export class TemplateError extends BatonError {
  constructor(message: string) {
    super(message);
    this.name = ErrorNames.TemplateError;
  }
}

/** How each resource is named locally: what `Ref` and `Fn::GetAtt` resolve to. */
export interface LocalNames {
  ref(logicalId: string, resource: CfnResource): string;
  getAtt(logicalId: string, attribute: string, resource: CfnResource): string;
}

/** A function's name: its fixed `FunctionName` (agent functions), else its logical id. */
function functionNameOf(id: string, r: CfnResource): string {
  const name = r.Properties?.FunctionName;
  return typeof name === 'string' ? name : id;
}

export function defaultLocalNames(queueUrl: (name: string) => string): LocalNames {
  const arn = (service: string, rest: string) =>
    `arn:aws:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${rest}`;
  return {
    ref(id, r) {
      switch (r.Type) {
        case 'AWS::DynamoDB::Table':
        case 'AWS::DynamoDB::GlobalTable':
          return `baton-${id}`;
        case 'AWS::S3::Bucket':
          return `baton-${id.toLowerCase()}`;
        case 'AWS::SQS::Queue':
          return queueUrl(`baton-${id}`);
        case 'AWS::Lambda::Function':
          return functionNameOf(id, r);
        case 'AWS::StepFunctions::StateMachine':
          return arn('states', `stateMachine:${(r.Properties?.StateMachineName as string) ?? id}`);
        default:
          return id;
      }
    },
    getAtt(id, attribute, r) {
      if (r.Type === 'AWS::Lambda::Function' && attribute === 'Arn')
        return arn('lambda', `function:${functionNameOf(id, r)}`);
      if (r.Type === 'AWS::StepFunctions::StateMachine' && attribute === 'Name')
        return (r.Properties?.StateMachineName as string | undefined) ?? id;
      if (r.Type === 'AWS::SQS::Queue' && attribute === 'Arn') return arn('sqs', `baton-${id}`);
      if (r.Type === 'AWS::SQS::Queue' && attribute === 'QueueName') return `baton-${id}`;
      if (r.Type.startsWith('AWS::DynamoDB::') && attribute === 'Arn')
        return arn('dynamodb', `table/baton-${id}`);
      if (r.Type === 'AWS::Events::Rule' && attribute === 'Arn') return arn('events', `rule/${id}`);
      if (r.Type === 'AWS::S3::Bucket' && attribute === 'Arn')
        return `arn:aws:s3:::baton-${id.toLowerCase()}`;
      return `${id}.${attribute}`;
    },
  };
}

const PSEUDO: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': LOCAL_STACK,
  'AWS::NoValue': '',
};

/** Resolves Ref, Fn::GetAtt, Fn::Join, Fn::Select and Fn::Sub (the forms CDK emits for us). */
export function resolveIntrinsics(value: unknown, template: CfnTemplate, names: LocalNames): unknown {
  const resource = (id: string) => {
    const r = template.Resources[id];
    if (!r) throw new TemplateError(`The template references ${id}, which it does not define`);
    return r;
  };
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!v || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const [k] = keys as [string];
      const arg = o[k];
      if (k === 'Ref') {
        const id = arg as string;
        return PSEUDO[id] ?? names.ref(id, resource(id));
      }
      if (k === 'Fn::GetAtt') {
        const [id, att] = (Array.isArray(arg) ? arg : String(arg).split('.')) as [string, string];
        return names.getAtt(id, att, resource(id));
      }
      if (k === 'Fn::Join') {
        const [sep, parts] = arg as [string, unknown[]];
        return (walk(parts) as unknown[]).join(sep);
      }
      if (k === 'Fn::Select') {
        const [i, list] = arg as [number, unknown];
        return (walk(list) as unknown[])[Number(i)];
      }
      if (k === 'Fn::Split') {
        const [sep, s] = arg as [string, unknown];
        return String(walk(s)).split(sep);
      }
      if (k === 'Fn::Sub') {
        const [text, vars] = (Array.isArray(arg) ? arg : [arg, {}]) as [string, Record<string, unknown>];
        return text.replace(/\$\{([^}]+)\}/g, (_m, name: string) => {
          if (vars[name] !== undefined) return String(walk(vars[name]));
          if (PSEUDO[name] !== undefined) return PSEUDO[name] as string;
          const [id, att] = name.split('.') as [string, string?];
          return att ? names.getAtt(id, att, resource(id)) : names.ref(id, resource(id));
        });
      }
    }
    return Object.fromEntries(Object.entries(o).map(([key, val]) => [key, walk(val)]));
  };
  return walk(value);
}

export function resourcesOfType(template: CfnTemplate, type: string): [string, CfnResource][] {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}
