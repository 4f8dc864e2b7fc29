/** The CDK app: `npx cdk synth` / `npx cdk deploy`. Agents come from BATON_CONFIG (plus the built-ins). */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { agentCatalog, loadBatonConfig } from '../lambdas/agents/registry.js';
import { type ModelConfig, parseModelConfig } from '../lambdas/models/index.js';
import { acknowledgeNagFindings } from '../lib/aws/nag.js';
import { BatonStack } from '../lib/aws/stack.js';

function modelConfigFrom(raw: unknown): ModelConfig | undefined {
  if (raw === undefined || raw === '') return undefined;
  return parseModelConfig(
    typeof raw === 'string' ? JSON.parse(raw) : raw,
    'model config (BATON_MODEL_CONFIG or -c baton:model=…)',
  );
}

const app = new App();
const config = loadBatonConfig();
const stack = new BatonStack(app, process.env.BATON_STACK_NAME ?? 'Baton', {
  agents: agentCatalog(config),
  intakeSweepAfterSeconds: config.config.intake?.sweepAfterSeconds,
  ...(config.config.fanOut ? { fanOutSourceBuckets: config.config.fanOut.sourceBuckets } : {}),
  // Approval links start with this URL (e.g. a custom domain); default: the HTTP API's URL.
  publicUrl:
    (app.node.tryGetContext('baton:publicUrl') as string | undefined) ?? process.env.BATON_PUBLIC_URL,
  // The deployment's model, e.g. {"provider":"bedrock","modelId":"anthropic.claude-3-5-haiku-20241022-v1:0"}.
  modelConfig: modelConfigFrom(app.node.tryGetContext('baton:model') ?? process.env.BATON_MODEL_CONFIG),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
// cdk-nag AwsSolutions runs on every synth; findings are fixed or acknowledged in lib/aws/nag.ts.
acknowledgeNagFindings(stack);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
