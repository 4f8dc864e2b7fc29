/** The CDK app: `npx cdk synth` / `npx cdk deploy`. Agents come from BATON_CONFIG (plus the built-ins). */
import { App } from 'aws-cdk-lib';
import { agentCatalog } from '../lambdas/agents/registry.js';
import { BatonStack } from '../lib/aws/stack.js';

const app = new App();
new BatonStack(app, process.env.BATON_STACK_NAME ?? 'Baton', {
  agents: agentCatalog(),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
app.synth();
