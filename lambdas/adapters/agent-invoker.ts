/**
 * Invokes an agent function synchronously (Lambda Invoke, RequestResponse) for the step runner.
 * A function error (the agent threw past its harness, crashed, or timed out) becomes an
 * AgentInvocationError with Lambda's `errorType`; what the function returned is handed back
 * unchecked (the runner checks it).
 */
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { AgentInvocationError } from '../agents/runner.js';

export class AgentInvoker {
  constructor(private readonly lambda: LambdaClient) {}

  async invoke(functionName: string, request: unknown): Promise<unknown> {
    const res = await this.lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: 'RequestResponse',
        Payload: Buffer.from(JSON.stringify(request)),
      }),
    );
    const text = res.Payload ? Buffer.from(res.Payload).toString('utf8') : '';
    if (res.FunctionError) {
      let errorType = res.FunctionError;
      let errorMessage = text;
      try {
        const body = JSON.parse(text) as { errorType?: unknown; errorMessage?: unknown };
        if (typeof body.errorType === 'string') errorType = body.errorType;
        if (typeof body.errorMessage === 'string') errorMessage = body.errorMessage;
      } catch {
        // Not JSON: the payload as it came.
      }
      throw new AgentInvocationError(
        errorType,
        `The agent function ${functionName} failed: ${errorType}: ${errorMessage}`.slice(0, 8000),
      );
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new AgentInvocationError(
        'InvalidResponse',
        `The agent function ${functionName} answered no JSON`,
        {
          cause: err,
        },
      );
    }
  }
}
