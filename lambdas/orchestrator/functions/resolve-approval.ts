/** The ResolveApproval Lambda entry: what ends a gate but an approval (reject, timeout, escalation). */
import { resolveApproval as closeApprovalGate } from '../approvals.js';
import { orchestratorDeps, stateFunction } from '../wiring.js';

export const resolveApproval = stateFunction('resolveApproval', closeApprovalGate, orchestratorDeps);
