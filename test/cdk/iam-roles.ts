/**
 * IAM simulation of the synthesized template's roles, with the evaluator local mode enforces with
 * (lib/local/iam, @cloud-copilot/iam-simulate): the ARNs of the stack's resources as local mode
 * names them, and `allows(role, action, resource)`.
 */

import { TABLE_INDEXES } from '../../lambdas/adapters/store.js';
import { agentCatalog, loadBatonConfig } from '../../lambdas/agents/registry.js';
import { METADATA } from '../../lib/aws/functions.js';
import { LocalIam, type RolePolicies, roleIdOf, rolePolicies } from '../../lib/local/iam/index.js';
import {
  type CfnResource,
  defaultLocalNames,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  resourcesOfType,
  synthTemplate,
} from '../../lib/local/template.js';

export interface SimulatedStack {
  /** The role of a function, by its handler (`planner`, `gate`, …, `api`) or agent name (`agent:research`). */
  role(fn: string): RolePolicies;
  stateMachineRole: RolePolicies;
  /** Agent names of the stack. */
  agents: string[];
  allows(role: RolePolicies, action: string, resource: string): Promise<boolean>;
  arn: {
    tables: string[];
    table: string;
    index(name: string): string;
    bucket: string;
    object(key: string): string;
    queue(prefix: 'Intake' | 'IntakeDeadLetters' | 'TaskDeadLetters'): string;
    stateMachine: string;
    execution(name: string): string;
    fn(key: string): string;
    approvalSecret: string;
  };
}

export const INDEXES = Object.values(TABLE_INDEXES);

export function simulateStack(): SimulatedStack {
  process.env.CDK_VALIDATION = 'false';
  const template = synthTemplate(agentCatalog(loadBatonConfig(undefined)));
  const names = defaultLocalNames((name) => name);
  const roles = rolePolicies(template, names);
  const iam = new LocalIam({
    region: LOCAL_REGION,
    account: LOCAL_ACCOUNT,
    admin: { accessKeyId: 'unused', secretAccessKey: 'unused' },
  });
  const fnKey = (r: CfnResource) =>
    r.Metadata?.['baton:agent']
      ? `agent:${String(r.Metadata['baton:agent'])}`
      : r.Metadata?.[METADATA.entry] === 'lambdas/api/handler.ts'
        ? 'api'
        : String(r.Metadata?.['baton:handler'] ?? '');
  const functions = new Map<string, [string, CfnResource]>();
  for (const [id, r] of resourcesOfType(template, 'AWS::Lambda::Function'))
    if (r.Metadata?.[METADATA.entry]) functions.set(fnKey(r), [id, r]);
  const roleOf = (value: unknown) => {
    const role = roles.get(roleIdOf(value) ?? '');
    if (!role) throw new Error(`no role for ${JSON.stringify(value)}`);
    return role;
  };
  const [[smId, sm] = ['', {} as CfnResource]] = resourcesOfType(
    template,
    'AWS::StepFunctions::StateMachine',
  );
  const stateMachine = names.ref(smId, sm);
  const tables = [
    ...resourcesOfType(template, 'AWS::DynamoDB::GlobalTable'),
    ...resourcesOfType(template, 'AWS::DynamoDB::Table'),
  ].map(([id, r]) => names.getAtt(id, 'Arn', r));
  const storeId = Object.keys(template.Resources).find((id) => /^Store[0-9A-F]{8}$/.test(id)) ?? '';
  const table = names.getAtt(storeId, 'Arn', template.Resources[storeId] as CfnResource);
  const bucketId = Object.keys(template.Resources).find((id) => /^Artifacts[0-9A-F]{8}$/.test(id)) ?? '';
  const bucket = names.getAtt(bucketId, 'Arn', template.Resources[bucketId] as CfnResource);
  const queue = (prefix: string) => {
    const id =
      Object.keys(template.Resources).find((k) => new RegExp(`^${prefix}[0-9A-F]{8}$`).test(k)) ?? '';
    return names.getAtt(id, 'Arn', template.Resources[id] as CfnResource);
  };
  const role = (fn: string) => {
    const entry = functions.get(fn);
    if (!entry) throw new Error(`no function ${fn} in the template`);
    return roleOf(entry[1].Properties?.Role);
  };
  return {
    role,
    stateMachineRole: roleOf(sm.Properties?.RoleArn),
    agents: [...functions.keys()].filter((k) => k.startsWith('agent:')).map((k) => k.slice('agent:'.length)),
    async allows(r, action, resource) {
      const decision = await iam.evaluate(iam.principalOf(r, 'simulation'), { action, resource });
      return decision.allowed;
    },
    arn: {
      tables,
      table,
      index: (name) => `${table}/index/${name}`,
      bucket,
      object: (key) => `${bucket}/${key}`,
      queue,
      stateMachine,
      execution: (name) => `${stateMachine.replace(':stateMachine:', ':execution:')}:${name}`,
      fn: (key) => {
        const entry = functions.get(key);
        if (!entry) throw new Error(`no function ${key}`);
        return names.getAtt(entry[0], 'Arn', entry[1]);
      },
      approvalSecret: `arn:aws:ssm:${LOCAL_REGION}:${LOCAL_ACCOUNT}:parameter/Baton/approval-signing-secret`,
    },
  };
}
