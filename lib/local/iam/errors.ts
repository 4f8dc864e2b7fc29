/**
 * A refused call and how each service says so on the wire, so the AWS SDK surfaces the error
 * names it surfaces in AWS (AccessDeniedException, AccessDenied, ...).
 */
import { randomUUID } from 'node:crypto';
import { BatonError, ErrorNames } from '../../../lambdas/core/errors.js';
import type { IamService } from './actions.js';

export type DenialKind = 'accessDenied' | 'missing' | 'unknownKey' | 'signature' | 'expired';

/** Thrown by `LocalIam.authorize*`: the call is refused; `kind` says why. */
export class AccessDeniedError extends BatonError {
  readonly kind: DenialKind;
  readonly principal?: string;
  readonly action?: string;
  readonly resource?: string;
  constructor(
    kind: DenialKind,
    message: string,
    details: { principal?: string; action?: string; resource?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = ErrorNames.LocalAccessDenied;
    this.kind = kind;
    this.principal = details.principal;
    this.action = details.action;
    this.resource = details.resource;
  }
}

/** AWS's wording of an identity-policy denial. */
export function denialMessage(
  principal: string,
  action: string,
  resource: string,
  explicit: boolean,
): string {
  return explicit
    ? `User: ${principal} is not authorized to perform: ${action} on resource: ${resource} with an explicit deny in an identity-based policy`
    : `User: ${principal} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`;
}

export interface WireError {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The error code each service answers for each kind of refusal. */
const CODES: Record<IamService, Record<DenialKind, [code: string, status: number]>> = {
  dynamodb: {
    accessDenied: ['AccessDeniedException', 400],
    missing: ['MissingAuthenticationTokenException', 400],
    unknownKey: ['UnrecognizedClientException', 400],
    signature: ['InvalidSignatureException', 400],
    expired: ['ExpiredTokenException', 400],
  },
  states: {
    accessDenied: ['AccessDeniedException', 400],
    missing: ['MissingAuthenticationTokenException', 400],
    unknownKey: ['UnrecognizedClientException', 400],
    signature: ['InvalidSignatureException', 400],
    expired: ['ExpiredTokenException', 400],
  },
  lambda: {
    accessDenied: ['AccessDeniedException', 403],
    missing: ['MissingAuthenticationTokenException', 403],
    unknownKey: ['UnrecognizedClientException', 403],
    signature: ['InvalidSignatureException', 403],
    expired: ['ExpiredTokenException', 403],
  },
  sqs: {
    accessDenied: ['AccessDenied', 403],
    missing: ['MissingAuthenticationToken', 403],
    unknownKey: ['InvalidClientTokenId', 403],
    signature: ['SignatureDoesNotMatch', 403],
    expired: ['ExpiredToken', 403],
  },
  s3: {
    accessDenied: ['AccessDenied', 403],
    missing: ['AccessDenied', 403],
    unknownKey: ['InvalidAccessKeyId', 403],
    signature: ['SignatureDoesNotMatch', 403],
    expired: ['AccessDenied', 403],
  },
};

const xml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * The response a service sends for a refusal:
 * - DynamoDB, Step Functions: awsJson1_0 400 `{"__type": "com.amazon.coral.service#<Code>", "Message"|"message"}`;
 * - SQS (JSON protocol, query-compatible): `__type` + the `x-amzn-query-error: <Code>;Sender` header
 *   the SDK takes the query error code from; query protocol: the `<ErrorResponse>` XML;
 * - S3: 403 `<Error><Code>AccessDenied</Code>…` XML (a HEAD gets no body, as from S3);
 * - Lambda: restJson 403 with `x-amzn-ErrorType: <Code>` and `{"Type":"User","message"}`.
 */
export function wireError(
  service: IamService,
  err: AccessDeniedError,
  opts: { method?: string; sqsQueryProtocol?: boolean } = {},
): WireError {
  const [code, status] = CODES[service][err.kind];
  const requestId = randomUUID();
  switch (service) {
    case 'dynamodb':
    case 'states':
      return {
        status,
        headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId },
        body: JSON.stringify({
          __type: `com.amazon.coral.service#${code}`,
          [service === 'dynamodb' ? 'Message' : 'message']: err.message,
        }),
      };
    case 'lambda':
      return {
        status,
        headers: {
          'content-type': 'application/json',
          'x-amzn-errortype': code,
          'x-amzn-requestid': requestId,
        },
        body: JSON.stringify({ Type: 'User', message: err.message }),
      };
    case 'sqs':
      if (opts.sqsQueryProtocol) {
        return {
          status,
          headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
          body: `<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${xml(err.message)}</Message><Detail/></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
        };
      }
      return {
        status,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-query-error': `${code};Sender`,
          'x-amzn-requestid': requestId,
        },
        body: JSON.stringify({ __type: `com.amazon.coral.service#${code}`, message: err.message }),
      };
    case 's3':
      return {
        status,
        headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
        body:
          opts.method === 'HEAD'
            ? ''
            : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xml(err.message)}</Message><RequestId>${requestId}</RequestId><HostId>local</HostId></Error>`,
      };
  }
}
