import { describe, expect, it } from 'vitest';
import { ArtifactStoreError } from '../../lambdas/adapters/artifacts.js';
import { ApprovalNotificationError } from '../../lambdas/adapters/notifier.js';
import { QueueError } from '../../lambdas/adapters/queue.js';
import { SigningSecretError } from '../../lambdas/adapters/secrets.js';
import { InvalidCursorError, StoreError } from '../../lambdas/adapters/store.js';
import { WorkflowError } from '../../lambdas/adapters/workflow.js';
import { AgentConfigError } from '../../lambdas/agents/registry.js';
import { AgentSettingsError } from '../../lambdas/agents/settings.js';
import { approvalConflictError } from '../../lambdas/api/approvals.js';
import {
  AgentFailedError,
  BatonError,
  CancelledError,
  ConflictError,
  ContractViolationError,
  ErrorNames,
  GoneError,
  NON_RETRYABLE_ERRORS,
  NonRetryableError,
  NotFoundError,
  PayloadTooLargeError,
  UnauthorizedError,
  ValidationError,
} from '../../lambdas/core/errors.js';
import { ModelRequestError, ModelUnavailableError } from '../../lambdas/models/errors.js';
import { ApprovalsNotConfiguredError } from '../../lambdas/orchestrator/approvals.js';
import {
  HostNotAllowedError,
  ReadOnlyViolationError,
  SsrfBlockedError,
  ToolAbortedError,
  ToolDisabledError,
  ToolError,
  ToolExecutionError,
  ToolInputError,
  ToolNotAllowedError,
  ToolNotFoundError,
  ToolTimeoutError,
} from '../../lambdas/tools/errors.js';
import { EmulatorError } from '../../lib/local/emulators.js';
import { LocalRuntimeError } from '../../lib/local/runtime.js';
import { SqsPollerError } from '../../lib/local/sqs-poller.js';
import { TemplateError } from '../../lib/local/template.js';

const cause = new Error('the underlying failure');
const decision = {
  decision: 'approve' as const,
  approver: 'Ada',
  via: 'api' as const,
  at: '2030-01-01T00:00:00.000Z',
};
const model = { provider: 'bedrock:m', attempts: 1, cause };

/** One instance of every Baton error class, by the name it must carry. */
const ERRORS: [string, Error][] = [
  [ErrorNames.Error, new BatonError('x', { cause })],
  [ErrorNames.AgentFailed, new AgentFailedError('x', { cause })],
  [ErrorNames.NonRetryable, new NonRetryableError('x', { cause })],
  [ErrorNames.ContractViolation, new ContractViolationError('x', { cause })],
  [ErrorNames.Cancelled, new CancelledError('x', { cause })],
  [ErrorNames.Validation, new ValidationError('x', [], { cause })],
  [ErrorNames.NotFound, new NotFoundError('x')],
  [ErrorNames.Conflict, new ConflictError('x')],
  [ErrorNames.PayloadTooLarge, new PayloadTooLargeError('x')],
  [ErrorNames.Unauthorized, new UnauthorizedError()],
  [ErrorNames.Gone, new GoneError('x')],
  [ErrorNames.Conflict, approvalConflictError({ reason: 'already-decided', approvalId: 'a', decision })],
  [ErrorNames.Gone, approvalConflictError({ reason: 'expired', approvalId: 'a', expiresAt: decision.at })],
  [ErrorNames.InvalidCursor, new InvalidCursorError()],
  [ErrorNames.StoreError, new StoreError('x', { cause })],
  [ErrorNames.WorkflowError, new WorkflowError('x', { cause })],
  [ErrorNames.ArtifactStoreError, new ArtifactStoreError('x', { cause })],
  [ErrorNames.QueueError, new QueueError('x', { cause })],
  [ErrorNames.SigningSecretUnavailable, new SigningSecretError('x', { cause })],
  [ErrorNames.ApprovalNotificationFailed, new ApprovalNotificationError('x', 'a', { cause })],
  [ErrorNames.ApprovalsNotConfigured, new ApprovalsNotConfiguredError()],
  [ErrorNames.AgentConfigError, new AgentConfigError('x', { cause })],
  [ErrorNames.AgentSettingsError, new AgentSettingsError('x', { cause })],
  [ErrorNames.NonRetryable, new ModelRequestError('x', model)],
  [ErrorNames.AgentFailed, new ModelUnavailableError('x', model)],
  [ErrorNames.ToolError, new ToolError('x', { cause })],
  [ErrorNames.ToolNotAllowed, new ToolNotAllowedError('t', [])],
  [ErrorNames.ToolNotFound, new ToolNotFoundError('t', [])],
  [ErrorNames.ToolInput, new ToolInputError('t', [], { cause })],
  [ErrorNames.ToolDisabled, new ToolDisabledError('t', 'enable it')],
  [ErrorNames.ToolTimeout, new ToolTimeoutError('t', 10, { cause })],
  [ErrorNames.ToolAborted, new ToolAbortedError('t', { cause })],
  [ErrorNames.ToolExecution, new ToolExecutionError('x', { cause })],
  [ErrorNames.SsrfBlocked, new SsrfBlockedError('h', undefined, 'private')],
  [ErrorNames.HostNotAllowed, new HostNotAllowedError('h', [])],
  [ErrorNames.ReadOnlyViolation, new ReadOnlyViolationError('x', { cause })],
  [ErrorNames.EmulatorError, new EmulatorError('sqs', 'x', { cause })],
  [ErrorNames.SqsPollerError, new SqsPollerError('x', { cause })],
  [ErrorNames.TemplateError, new TemplateError('x')],
  [ErrorNames.LocalRuntimeError, new LocalRuntimeError('x', { cause })],
];

describe('the error tree', () => {
  it.each(ERRORS)('%s: extends BatonError, named from ErrorNames, keeps its cause', (name, error) => {
    // Assess
    expect(error).toBeInstanceOf(BatonError);
    expect(error.name).toBe(name);
    expect(Object.values(ErrorNames)).toContain(error.name);
    if (error.cause !== undefined) expect(error.cause).toBe(cause);
  });

  it('keeps the values Step Functions matches and the audit trail records', () => {
    // Assess
    expect({
      AgentFailed: ErrorNames.AgentFailed,
      NonRetryable: ErrorNames.NonRetryable,
      ContractViolation: ErrorNames.ContractViolation,
      Cancelled: ErrorNames.Cancelled,
      ApprovalRejected: ErrorNames.ApprovalRejected,
      ApprovalTimedOut: ErrorNames.ApprovalTimedOut,
      TaskFailed: ErrorNames.TaskFailed,
      SsrfBlocked: ErrorNames.SsrfBlocked,
    }).toEqual({
      AgentFailed: 'Baton.AgentFailed',
      NonRetryable: 'Baton.NonRetryable',
      ContractViolation: 'Baton.ContractViolation',
      Cancelled: 'Baton.Cancelled',
      ApprovalRejected: 'Baton.ApprovalRejected',
      ApprovalTimedOut: 'Baton.ApprovalTimedOut',
      TaskFailed: 'Baton.TaskFailed',
      SsrfBlocked: 'SsrfBlockedError',
    });
    expect(NON_RETRYABLE_ERRORS).toEqual([
      'Baton.NonRetryable',
      'Baton.ContractViolation',
      'Baton.Cancelled',
    ]);
  });

  it('gives every name in ErrorNames one meaning', () => {
    // Assess
    const values = Object.values(ErrorNames);
    expect(new Set(values).size).toBe(values.length);
  });
});
