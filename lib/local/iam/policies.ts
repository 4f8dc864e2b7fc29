/**
 * The roles of the synthesized template and what each may do: its attached AWS::IAM::Policy and
 * AWS::IAM::ManagedPolicy documents, its inline `Policies` and its `ManagedPolicyArns`, with the
 * template's intrinsics resolved to local ARNs (lib/local/template.ts). AWS managed policies are
 * not in the template: the ones Baton's functions get are written out below by what they grant.
 */
import { BatonError, ErrorNames } from '../../../lambdas/core/errors.js';
import {
  type CfnResource,
  type CfnTemplate,
  LOCAL_ACCOUNT,
  type LocalNames,
  resolveIntrinsics,
  resourcesOfType,
} from '../template.js';

export interface PolicyDocument {
  Version?: string;
  Statement: Record<string, unknown>[] | Record<string, unknown>;
}

export interface NamedPolicy {
  name: string;
  policy: PolicyDocument;
}

export interface RolePolicies {
  logicalId: string;
  /** RoleName if the template sets one, else the logical id (what local ARNs use). */
  roleName: string;
  roleArn: string;
  policies: NamedPolicy[];
  /** Managed policy ARNs this table does not know: they grant nothing locally. */
  unknownManagedPolicies: string[];
}

const LOGS_ONLY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: '*',
    },
  ],
};

/** AWS managed policies, by name, as AWS publishes them (what they grant). */
export const AWS_MANAGED_POLICIES: Readonly<Record<string, PolicyDocument>> = {
  'service-role/AWSLambdaBasicExecutionRole': LOGS_ONLY,
  AWSXRayDaemonWriteAccess: {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'xray:PutTraceSegments',
          'xray:PutTelemetryRecords',
          'xray:GetSamplingRules',
          'xray:GetSamplingTargets',
          'xray:GetSamplingStatisticSummaries',
        ],
        Resource: '*',
      },
    ],
  },
  'service-role/AWSLambdaVPCAccessExecutionRole': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: [
          'logs:CreateLogGroup',
          'logs:CreateLogStream',
          'logs:PutLogEvents',
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeSubnets',
          'ec2:DeleteNetworkInterface',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        Resource: '*',
      },
    ],
  },
};

export class PolicyTemplateError extends BatonError {
  constructor(message: string) {
    super(`Local IAM: ${message}`);
    this.name = ErrorNames.TemplateError;
  }
}

export const localRoleArn = (roleName: string) => `arn:aws:iam::${LOCAL_ACCOUNT}:role/${roleName}`;

/** The logical id of the role a resource's `Role` / `RoleArn` property names (Fn::GetAtt [id, Arn]). */
export function roleIdOf(value: unknown): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const att = (value as Record<string, unknown>)['Fn::GetAtt'];
  if (Array.isArray(att) && att[1] === 'Arn') return String(att[0]);
  if (typeof att === 'string' && att.endsWith('.Arn')) return att.slice(0, -'.Arn'.length);
  return undefined;
}

function refIds(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((v) =>
    v && typeof v === 'object' && typeof (v as { Ref?: unknown }).Ref === 'string'
      ? [(v as { Ref: string }).Ref]
      : [],
  );
}

/** Every AWS::IAM::Role of the template with its policies, resolved to local ARNs. */
export function rolePolicies(template: CfnTemplate, names: LocalNames): Map<string, RolePolicies> {
  const roles = new Map<string, RolePolicies>();
  const resolve = (v: unknown) => resolveIntrinsics(v, template, names);
  for (const [id, role] of resourcesOfType(template, 'AWS::IAM::Role')) {
    const p = role.Properties ?? {};
    const roleName = typeof p.RoleName === 'string' ? p.RoleName : id;
    const policies: NamedPolicy[] = [];
    const unknownManagedPolicies: string[] = [];
    for (const inline of (p.Policies as { PolicyName: unknown; PolicyDocument: unknown }[] | undefined) ??
      []) {
      policies.push({
        name: String(resolve(inline.PolicyName)),
        policy: resolve(inline.PolicyDocument) as PolicyDocument,
      });
    }
    for (const arn of (p.ManagedPolicyArns as unknown[] | undefined) ?? []) {
      const resolved = String(resolve(arn));
      const name = /^arn:[^:]+:iam::aws:policy\/(.+)$/.exec(resolved)?.[1];
      const known = name ? AWS_MANAGED_POLICIES[name] : undefined;
      if (known) policies.push({ name: resolved, policy: known });
      else if (!resolved.includes(':iam::aws:policy/')) {
        // A customer managed policy of this template: added below from its resource.
      } else unknownManagedPolicies.push(resolved);
    }
    roles.set(id, {
      logicalId: id,
      roleName,
      roleArn: localRoleArn(roleName),
      policies,
      unknownManagedPolicies,
    });
  }
  const attach = (policyId: string, r: CfnResource, nameProp: string) => {
    const p = r.Properties ?? {};
    for (const roleId of refIds(p.Roles)) {
      const role = roles.get(roleId);
      if (!role)
        throw new PolicyTemplateError(
          `${policyId} is attached to ${roleId}, which is not a role of the template`,
        );
      role.policies.push({
        name: String(p[nameProp] ?? policyId),
        policy: resolveIntrinsics(p.PolicyDocument, template, names) as PolicyDocument,
      });
    }
  };
  for (const [id, r] of resourcesOfType(template, 'AWS::IAM::Policy')) attach(id, r, 'PolicyName');
  for (const [id, r] of resourcesOfType(template, 'AWS::IAM::ManagedPolicy'))
    attach(id, r, 'ManagedPolicyName');
  return roles;
}
