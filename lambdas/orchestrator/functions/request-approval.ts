/**
 * The RequestApproval Lambda entry: opens an approval gate and tells the approvers. They are told
 * through SNS when the stack gives a topic (APPROVAL_TOPIC_ARN), else on the console (local mode:
 * the runtime log). Links are signed with the secrets from SSM or the local secret file, and
 * start with BATON_PUBLIC_URL.
 */
import { ConsoleApprovalNotifier, SnsApprovalNotifier } from '../../adapters/notifier.js';
import { loadSigningSecrets } from '../../adapters/secrets.js';
import { requestApproval as openApprovalGate } from '../approvals.js';
import { orchestratorDeps, stateFunction } from '../wiring.js';

export const requestApproval = stateFunction('requestApproval', openApprovalGate, (env) => {
  const topicArn = env.APPROVAL_TOPIC_ARN;
  return {
    ...orchestratorDeps(env),
    approvals: {
      secrets: () => loadSigningSecrets({ env }),
      notifier: topicArn ? new SnsApprovalNotifier({ topicArn }) : new ConsoleApprovalNotifier(),
      publicUrl: () => env.BATON_PUBLIC_URL,
    },
  };
});
