/** Synthesizes the Baton stack for assertion tests (no bundling) and reads back its state machine. */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { agentCatalog } from '../../lambdas/agents/registry.js';
import { BatonStack } from '../../lib/aws/stack.js';
import { type CfnTemplate, defaultLocalNames, resolveIntrinsics } from '../../lib/local/template.js';
import { STATE } from '../../lib/workflow/definition.js';

export type State = Record<string, unknown> & { Parameters?: { Payload?: Record<string, unknown> } };
export type Asl = { StartAt: string; States: Record<string, State> };

export interface Synthesized {
  template: Template;
  /** The top-level definition, intrinsics resolved. */
  asl: Asl;
  /** One step's iteration: the Map's ItemProcessor. */
  iteration: Asl;
}

/** The stack with the built-in agents and the registered fixture agent `echo`. */
export function synthStack(): Synthesized {
  process.env.CDK_VALIDATION = 'false';
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const agents = agentCatalog({
    config: { agents: { echo: { handler: '../fixtures/agents/echo.mjs#handler' } } },
    baseDir: new URL('.', import.meta.url).pathname,
  });
  const stack = new BatonStack(app, 'Test', {
    agents,
    env: { account: '111111111111', region: 'eu-west-1' },
  });
  const template = Template.fromStack(stack);
  const raw = template.toJSON() as CfnTemplate;
  const [sm] = Object.values(raw.Resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');
  const asl = JSON.parse(
    String(
      resolveIntrinsics(
        sm?.Properties?.DefinitionString,
        raw,
        defaultLocalNames((n) => n),
      ),
    ),
  ) as Asl;
  const iteration = (asl.States[STATE.runSteps] as unknown as { ItemProcessor: Asl }).ItemProcessor;
  return { template, asl, iteration };
}
