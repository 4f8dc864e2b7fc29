/**
 * Tells approvers that a gate is waiting: SNS in AWS (e-mail/chat subscriptions of a topic),
 * one console line in local mode. The message carries the signed link (that is its purpose)
 * but never the task token; error messages carry neither the link nor the token.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { PublishCommand, type PublishCommandInput, SNSClient } from '@aws-sdk/client-sns';
import type { ApprovalKind } from '../core/approvals.js';
import { BatonError, ErrorNames } from '../core/errors.js';

export interface ApprovalNotification {
  approvalId: string;
  taskId: string;
  /** Set for step gates. */
  stepId?: string;
  kind: ApprovalKind;
  goal: string;
  /** The signed approval link. */
  url: string;
  expiresAt: Date;
  /**
   * The gate timed out once and its policy escalates: this is the second and last request.
   * SNS messages carry the attribute `escalation=true`, so a subscription filter policy can route
   * escalations to another audience (e.g. the team lead's address).
   */
  escalation?: boolean;
}

export interface ApprovalNotifier {
  notify(req: ApprovalNotification): Promise<void>;
}

export class ApprovalNotificationError extends BatonError {
  readonly approvalId: string;
  constructor(message: string, approvalId: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.ApprovalNotificationFailed;
    this.approvalId = approvalId;
  }
}

/** Goals are shown in full on the approval page; the notification carries a preview. */
const MAX_GOAL_PREVIEW_CHARS = 500;

function subjectOf(req: ApprovalNotification): string {
  // SNS subjects: < 100 ASCII characters, no line breaks. Built from safe parts only (step ids
  // are [A-Za-z0-9_-]{1,64}); the user's goal never goes into a subject.
  const subject =
    req.kind === 'plan'
      ? 'Baton: approve the plan of a task'
      : req.kind === 'review'
        ? `Baton: review failed step ${req.stepId ?? ''}`
        : `Baton: approve step ${req.stepId ?? ''}`;
  return `${req.escalation ? 'ESCALATED ' : ''}${subject.trim()}`.slice(0, 99);
}

function previewOf(goal: string): string {
  const oneLine = goal.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_GOAL_PREVIEW_CHARS
    ? `${oneLine.slice(0, MAX_GOAL_PREVIEW_CHARS - 1)}…`
    : oneLine;
}

/** The plain-text body of the notification. */
export function approvalMessage(req: ApprovalNotification): string {
  const what =
    req.kind === 'plan'
      ? `the plan of task ${req.taskId}`
      : req.kind === 'review'
        ? `failed step ${req.stepId ?? '?'} of task ${req.taskId} (accept a replacement output, retry, or fail it)`
        : `step ${req.stepId ?? '?'} of task ${req.taskId}`;
  return [
    ...(req.escalation ? ['ESCALATION: nobody decided within the first timeout.', ''] : []),
    `Baton needs your decision on ${what}.`,
    '',
    `Goal: ${previewOf(req.goal)}`,
    '',
    'Review it and approve or reject here:',
    req.url,
    '',
    `The link expires at ${req.expiresAt.toISOString()}. It works once: the first decision counts.`,
    `Approval id: ${req.approvalId}`,
  ].join('\n');
}

/** The exact `PublishCommand` input for a notification. */
export function snsPublishInput(topicArn: string, req: ApprovalNotification): PublishCommandInput {
  return {
    TopicArn: topicArn,
    Subject: subjectOf(req),
    Message: approvalMessage(req),
    MessageAttributes: {
      taskId: { DataType: 'String', StringValue: req.taskId },
      kind: { DataType: 'String', StringValue: req.kind },
      ...(req.escalation ? { escalation: { DataType: 'String', StringValue: 'true' } } : {}),
    },
  };
}

let sharedSnsClient: SNSClient | undefined;
/** One client per Lambda container, created on first use. */
function defaultSnsClient(): SNSClient {
  sharedSnsClient ??= new SNSClient({});
  return sharedSnsClient;
}

export interface SnsApprovalNotifierOptions {
  topicArn: string;
  /** Defaults to one shared client for the container. */
  client?: SNSClient;
}

/** Publishes one message per approval to an SNS topic. */
export class SnsApprovalNotifier implements ApprovalNotifier {
  private readonly topicArn: string;
  private readonly client: SNSClient;

  constructor(options: SnsApprovalNotifierOptions) {
    if (!/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(options.topicArn)) {
      throw new BatonError(
        `"${options.topicArn}" is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)`,
      );
    }
    this.topicArn = options.topicArn;
    this.client = options.client ?? defaultSnsClient();
  }

  async notify(req: ApprovalNotification): Promise<void> {
    try {
      await this.client.send(new PublishCommand(snsPublishInput(this.topicArn, req)));
    } catch (err) {
      const reason = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      throw new ApprovalNotificationError(
        `could not publish the notification for approval ${req.approvalId} to ${this.topicArn}: ${reason}`,
        req.approvalId,
        { cause: err },
      );
    }
  }
}

const consoleApprovalSinks = new AsyncLocalStorage<(line: string) => void>();

/**
 * Runs `fn` with `ConsoleApprovalNotifier`s that have no log function of their own writing to
 * `sink` (else to the console): the local runtime wraps each invocation, so the link shows up
 * with that runtime's other lines, and two runtimes in one process each get their own.
 */
export function withConsoleApprovalSink<T>(sink: (line: string) => void, fn: () => T): T {
  return consoleApprovalSinks.run(sink, fn);
}

/** Local mode: one line with the link, through the given log function (default: the console sink). */
export class ConsoleApprovalNotifier implements ApprovalNotifier {
  constructor(
    private readonly log: (line: string) => void = (line) =>
      (consoleApprovalSinks.getStore() ?? console.log)(line),
  ) {}

  async notify(req: ApprovalNotification): Promise<void> {
    const what =
      req.kind === 'plan'
        ? 'the plan'
        : req.kind === 'review'
          ? `review of failed step ${req.stepId ?? '?'}`
          : `step ${req.stepId ?? '?'}`;
    this.log(
      `[baton] ${req.escalation ? 'ESCALATED: ' : ''}approval needed for ${what} of task ${req.taskId}: open ${req.url} (expires ${req.expiresAt.toISOString()})`,
    );
  }
}
