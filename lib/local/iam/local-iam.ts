/**
 * `LocalIam`: the identities of local mode (one per function role, plus the runtime's admin) and
 * the check of every emulated call against the caller's role policies, evaluated by
 * @cloud-copilot/iam-simulate (a maintained IAM policy evaluator; AGPL-3.0, a devDependency of
 * local mode only, never bundled into a Lambda).
 */
import { randomBytes } from 'node:crypto';
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate';
import {
  type ArnContext,
  callsOfOperation,
  callsOfS3,
  type IamCall,
  type IamService,
  RESOURCE_EVALUATED_DESPITE_REFERENCE,
  s3Target,
  UnknownOperationError,
} from './actions.js';
import { AccessDeniedError, denialMessage } from './errors.js';
import type { NamedPolicy, RolePolicies } from './policies.js';
import { authenticate, type SignedRequest } from './sigv4.js';

export interface Principal {
  /** arn:aws:sts::<account>:assumed-role/<RoleName>/<session>, or the admin's name. */
  arn: string;
  roleArn?: string;
  policies: readonly NamedPolicy[];
  /** The runtime's own identity: authenticated, never checked against a policy. */
  admin: boolean;
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** What a check decided: the principal, and per call Allowed or the denial. */
export type Decision = { allowed: true } | { allowed: false; explicit: boolean; message: string };

const MAX_CACHED_DECISIONS = 50_000;

export interface LocalIamOptions {
  region: string;
  account: string;
  /** The admin key pair (the runtime's own process: creating tables, tests reading the store). */
  admin: Credentials;
}

export class LocalIam {
  readonly region: string;
  readonly account: string;
  private readonly byKey = new Map<string, { secret: string; principal: Principal }>();
  private readonly decisions = new Map<string, Decision>();
  /** Set by the local Step Functions: the state machine of a task token's execution. */
  stateMachineOfToken?: (token: string) => string | undefined;
  /**
   * Every checked call of the functions (not the runtime's own admin calls), by caller and action
   * (`<session (the function)> dynamodb:PutItem`…): what `npm run bench` counts per step and task.
   */
  readonly callCountsByCaller = new Map<string, number>();

  constructor(opts: LocalIamOptions) {
    this.region = opts.region;
    this.account = opts.account;
    this.byKey.set(opts.admin.accessKeyId, {
      secret: opts.admin.secretAccessKey,
      principal: { arn: `arn:aws:iam::${opts.account}:root (local admin)`, policies: [], admin: true },
    });
  }

  /** The session principal of a role, as STS names it for a Lambda function or a state machine. */
  principalOf(role: RolePolicies, sessionName: string): Principal {
    return {
      arn: `arn:aws:sts::${this.account}:assumed-role/${role.roleName}/${sessionName}`,
      roleArn: role.roleArn,
      policies: role.policies,
      admin: false,
    };
  }

  /** A new key pair for `principal` (e.g. a function's), distinct from every other. */
  issueCredentials(principal: Principal): Credentials {
    const accessKeyId = `ASIALOCAL${randomBytes(6).toString('hex').toUpperCase()}`;
    const secretAccessKey = randomBytes(30).toString('base64url');
    this.byKey.set(accessKeyId, { secret: secretAccessKey, principal });
    return { accessKeyId, secretAccessKey };
  }

  /** The issued identities (access key id and principal; never the secret), the admin's included. */
  identities(): { accessKeyId: string; principal: Principal }[] {
    return [...this.byKey].map(([accessKeyId, { principal }]) => ({ accessKeyId, principal }));
  }

  private arnContext(): ArnContext {
    return { region: this.region, account: this.account, stateMachineOfToken: this.stateMachineOfToken };
  }

  /** Verifies the request's signature; the principal whose key signed it. Throws AccessDeniedError. */
  async authenticate(req: SignedRequest, service: IamService): Promise<Principal> {
    const result = await authenticate(req, (key) => this.byKey.get(key)?.secret, signingName(service));
    if (result.ok) return (this.byKey.get(result.accessKeyId) as { principal: Principal }).principal;
    throw new AccessDeniedError(result.failure.kind, result.failure.message);
  }

  /**
   * The API a local endpoint plugs in: authenticates the request (SigV4, signature verified
   * against the signing key's secret) and checks `action` on each `resource` against the signer's
   * policies. Returns the principal; throws AccessDeniedError (`wireError` turns it into the
   * service's response).
   */
  async authorize(
    req: SignedRequest,
    call: { service: IamService; action: string; resource: string | readonly string[] },
  ): Promise<Principal> {
    const principal = await this.authenticate(req, call.service);
    const resources = typeof call.resource === 'string' ? [call.resource] : call.resource;
    await this.check(
      principal,
      resources.map((resource) => ({ action: call.action, resource })),
    );
    return principal;
  }

  /** Authenticates and authorizes a JSON-protocol operation (DynamoDB, SQS, Step Functions, Lambda). */
  async authorizeOperation(
    service: Exclude<IamService, 's3'>,
    req: SignedRequest,
    operation: string,
    input: Record<string, unknown>,
  ): Promise<Principal> {
    const principal = await this.authenticate(req, service);
    if (principal.admin) return principal;
    await this.check(
      principal,
      this.callsOf(() => callsOfOperation(service, operation, input, this.arnContext())),
    );
    return principal;
  }

  /** Authenticates and authorizes a path-style S3 REST request. */
  async authorizeS3(req: SignedRequest): Promise<Principal> {
    const principal = await this.authenticate(req, 's3');
    if (principal.admin) return principal;
    const url = new URL(req.url, 'http://local');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(',') : v;
    const calls = this.callsOf(
      () =>
        callsOfS3({
          method: req.method,
          ...s3Target(url.pathname),
          query: url.searchParams,
          headers,
          body: Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body),
        }).calls,
    );
    await this.check(principal, calls);
    return principal;
  }

  private callsOf(derive: () => IamCall[]): IamCall[] {
    try {
      return derive();
    } catch (err) {
      if (err instanceof UnknownOperationError)
        throw new AccessDeniedError('accessDenied', err.message, { cause: err });
      throw err;
    }
  }

  /** Checks each call against the principal's policies; throws AccessDeniedError at the first denied. */
  async check(principal: Principal, calls: readonly IamCall[]): Promise<void> {
    if (principal.admin) return;
    for (const call of calls) {
      const by = `${principal.arn.split('/').at(-1)} ${call.action}`;
      this.callCountsByCaller.set(by, (this.callCountsByCaller.get(by) ?? 0) + 1);
      const decision = await this.evaluate(principal, call);
      if (!decision.allowed) {
        throw new AccessDeniedError('accessDenied', decision.message, {
          principal: principal.arn,
          action: call.action,
          resource: call.resource,
        });
      }
    }
  }

  /** One call against the principal's identity policies (cached per principal, action and resource). */
  async evaluate(principal: Principal, call: IamCall): Promise<Decision> {
    if (principal.admin) return { allowed: true };
    const key = `${principal.arn}\u0000${call.action}\u0000${call.resource}`;
    const cached = this.decisions.get(key);
    if (cached) return cached;
    const decision = await this.simulate(principal, call);
    if (this.decisions.size >= MAX_CACHED_DECISIONS) this.decisions.clear();
    this.decisions.set(key, decision);
    return decision;
  }

  private async simulate(principal: Principal, call: IamCall): Promise<Decision> {
    const simulation = {
      identityPolicies: principal.policies.map((p) => ({ name: p.name, policy: p.policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        action: call.action,
        principal: principal.arn,
        resource: { resource: call.resource, accountId: this.account },
        contextVariables: {},
      },
    };
    const denied = (explicit: boolean): Decision => ({
      allowed: false,
      explicit,
      message: denialMessage(principal.arn, call.action, call.resource, explicit),
    });
    if (RESOURCE_EVALUATED_DESPITE_REFERENCE.has(call.action) && call.resource !== '*') {
      const result = runUnsafeSimulation(simulation as Parameters<typeof runUnsafeSimulation>[0], {});
      return result === 'Allowed' ? { allowed: true } : denied(result === 'ExplicitlyDenied');
    }
    const result = await runSimulation(simulation as Parameters<typeof runSimulation>[0], {});
    if (result.resultType === 'error') {
      return {
        allowed: false,
        explicit: false,
        message: `${denialMessage(principal.arn, call.action, call.resource, false)} (local IAM could not evaluate the request: ${JSON.stringify(result.errors)})`,
      };
    }
    if (result.overallResult === 'Allowed') return { allowed: true };
    return denied(result.overallResult === 'ExplicitlyDenied');
  }
}

/** The SigV4 signing name of each service. */
export function signingName(service: IamService): string {
  return service;
}
