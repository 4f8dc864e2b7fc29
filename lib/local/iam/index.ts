/**
 * Local IAM: every emulated AWS call of local mode is made with the calling function's own
 * identity and checked against that function's role policies from the synthesized template.
 *
 * - Identities. Each Lambda of the template gets a key pair of its own (AWS_ACCESS_KEY_ID /
 *   AWS_SECRET_ACCESS_KEY in its environment); its principal is its role's session,
 *   `arn:aws:sts::000000000000:assumed-role/<RoleName>/<function>`. The state machine's role is
 *   the principal of the local Step Functions' Lambda invocations. The runtime's own process
 *   (creating tables, buckets and queues, SQS pollers' plumbing, tests reading the store) signs
 *   with the admin key pair (`LOCAL_CREDENTIALS` of emulators.ts), which is authenticated and
 *   never checked.
 * - Policies: policies.ts (the role's AWS::IAM::Policy documents, inline policies, managed
 *   policies), resolved to local ARNs.
 * - Action table: actions.ts (operation -> IAM action(s) and resource ARN(s); unknown -> denied).
 * - Evaluation: @cloud-copilot/iam-simulate (AGPL-3.0, devDependency of local mode only).
 * - Authentication: sigv4.ts (the signature is verified with the signer's secret).
 * - Enforcement: front.ts (in front of dynalite, s3rver and local-aws-sqs; its HTTP server and the
 *   sandboxes' in-process transport share one handler), the local SFN API
 *   (sfn/service.ts `listen`), the local Step Functions' Lambda invocations (runtime.ts).
 * - Refusals: errors.ts (`AccessDeniedError`, `wireError`: each service's AWS error shape).
 *
 * API for another local endpoint (e.g. a local Lambda Invoke endpoint):
 *
 *   const principal = await iam.authorize(
 *     { method, url, headers, body },            // the request as received (url: path + query)
 *     { service: 'lambda', action: 'lambda:InvokeFunction', resource: functionArn(iam, name) },
 *   );                                          // -> Principal; throws AccessDeniedError
 *   // on AccessDeniedError: const { status, headers, body } = wireError('lambda', err)
 *
 * or, with the action table: `iam.authorizeOperation('lambda', request, 'Invoke', { FunctionName })`.
 */
export {
  type ArnContext,
  callsOfOperation,
  callsOfS3,
  functionArn,
  type IamCall,
  type IamService,
  UnknownOperationError,
} from './actions.js';
export { AccessDeniedError, type DenialKind, denialMessage, type WireError, wireError } from './errors.js';
export {
  type Credentials,
  type Decision,
  LocalIam,
  type LocalIamOptions,
  type Principal,
} from './local-iam.js';
export {
  AWS_MANAGED_POLICIES,
  type NamedPolicy,
  type RolePolicies,
  roleIdOf,
  rolePolicies,
} from './policies.js';
export { authenticate, type SignedRequest } from './sigv4.js';
