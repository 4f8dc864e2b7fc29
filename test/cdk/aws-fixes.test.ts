/**
 * The AWS-only failures of issue 9, asserted on the synthesized template: what the deployed
 * functions and the state machine get in AWS (not what local mode happens to tolerate).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { agentCatalog, type BatonConfig } from '../../lambdas/agents/registry.js';
import { BatonStack } from '../../lib/aws/stack.js';

/** The stack for a Baton config whose relative paths are relative to `baseDir`. */
function synthWith(config: BatonConfig, baseDir: string): Template {
  process.env.CDK_VALIDATION = 'false';
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new BatonStack(app, 'Fixes', {
    agents: agentCatalog({ config, baseDir }),
    env: { account: '111111111111', region: 'eu-west-1' },
  });
  return Template.fromStack(stack);
}

/** An agent function's variables, by the agent name in its metadata. */
function agentEnv(template: Template, agent: string): Record<string, string> {
  const fns = template.findResources('AWS::Lambda::Function', { Metadata: { 'baton:agent': agent } });
  const [fn] = Object.values(fns);
  return (fn?.Properties?.Environment?.Variables ?? {}) as Record<string, string>;
}

describe('paths of the synth machine stay out of the template', () => {
  it('drops the db tool’s wasmPath (the bundle carries sql.js’s wasm) and keeps its other settings', () => {
    // Prepare
    const baseDir = mkdtempSync(join(tmpdir(), 'baton-config-'));
    const config: BatonConfig = {
      agents: { data: { tools: { db: { wasmPath: './sql-wasm.wasm', maxRows: 50 } } } },
    };

    // Act
    const template = synthWith(config, baseDir);

    // Assess
    const settings = JSON.parse(agentEnv(template, 'data').BATON_AGENT_SETTINGS ?? '{}');
    expect(settings.data.tools.db).toEqual({ maxRows: 50 });
    expect(JSON.stringify(template.toJSON())).not.toContain(baseDir);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ BATON_AGENT_SETTINGS: Match.stringLikeRegexp('"maxRows":50') }),
      },
    });
  });
});
