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
import { PUBLIC_ROUTES, routeKeyOf } from '../../lambdas/api/route-guard.js';
import { ErrorNames } from '../../lambdas/core/errors.js';
import { agentFunctionName, agentFunctionPrefix } from '../../lambdas/core/ids.js';
import { deployedSettings, InlineSecretError } from '../../lib/aws/agent-settings.js';
import { BatonStack, PUBLIC_ROUTE_THROTTLE } from '../../lib/aws/stack.js';
import { STATE } from '../../lib/workflow/definition.js';
import { synthStack } from './synth.js';

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

/** The stack for `config`, or the error its synthesis throws. */
function synthError(
  config: BatonConfig,
  modelConfig?: ConstructorParameters<typeof BatonStack>[2]['modelConfig'],
): unknown {
  process.env.CDK_VALIDATION = 'false';
  try {
    new BatonStack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Secrets', {
      agents: agentCatalog({ config, baseDir: tmpdir() }),
      ...(modelConfig ? { modelConfig } : {}),
      env: { account: '111111111111', region: 'eu-west-1' },
    });
  } catch (err) {
    return err;
  }
  return undefined;
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

describe('folders an agent’s settings name travel in its bundle', () => {
  it('gives corpusDir and an MCP cwd relative to the bundle, and copies them there at bundling', () => {
    // Prepare
    const baseDir = mkdtempSync(join(tmpdir(), 'baton-config-'));
    const config: BatonConfig = {
      agents: {
        research: {
          tools: {
            search: { corpusDir: './docs' },
            mcp: [{ name: 'notes', transport: 'stdio', command: 'node', args: ['server.mjs'], cwd: './mcp' }],
          },
        },
      },
    };
    const entry = agentCatalog({ config, baseDir }).get('research');
    // Act
    const template = synthWith(config, baseDir);
    const deployed = entry ? deployedSettings(entry.settings) : undefined;
    // Assess
    const settings = JSON.parse(agentEnv(template, 'research').BATON_AGENT_SETTINGS ?? '{}');
    expect(settings.research.tools.search.corpusDir).toBe('./files/0-corpus');
    expect(settings.research.tools.mcp[0].cwd).toBe('./files/1-mcp-notes');
    expect(JSON.stringify(template.toJSON())).not.toContain(baseDir);
    expect(deployed?.files).toEqual([
      { from: join(baseDir, 'docs'), to: 'files/0-corpus' },
      { from: join(baseDir, 'mcp'), to: 'files/1-mcp-notes' },
    ]);
  });
});

describe('the stack in any partition, replaceable, and guarded', () => {
  const synth = synthStack();
  const raw = synth.template.toJSON() as {
    Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  };
  const [machine] = Object.values(raw.Resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine');

  it("invokes agent functions through the stack's partition, not a hard-coded arn:aws", () => {
    // Assess: the unresolved definition joins AWS::Partition into RunAgent's Resource.
    const definition = JSON.stringify(machine?.Properties?.DefinitionString);
    expect(definition).not.toContain('arn:aws:states:::lambda:invoke\\"');
    expect(definition).toMatch(
      /"Resource\\":\\"arn:",\{"Ref":"AWS::Partition"\},":states:::lambda:invoke\\"/,
    );
  });

  it("ends every iteration with no output, so the Map collects nothing of the steps' states", () => {
    const done = synth.iteration.States[STATE.stepDone];
    expect(done).toMatchObject({ Type: 'Succeed', OutputPath: null });
    expect(synth.asl.States[STATE.runSteps]).toMatchObject({ ResultPath: null });
  });

  it('leaves the state machine unnamed, so a replacing update cannot collide with the old one', () => {
    // Assess: no fixed name; the callers answer tokens through a policy that refers to its ARN.
    expect(machine?.Properties).not.toHaveProperty('StateMachineName');
    const machineId = Object.keys(raw.Resources).find((id) => raw.Resources[id] === machine);
    const callbacks = Object.values(raw.Resources).filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        JSON.stringify(r.Properties?.PolicyDocument).includes('states:SendTaskSuccess') &&
        Array.isArray(r.Properties?.Roles) &&
        // gate, stepFailed, stepRunner, requestApproval, resolveApproval, finalize, prepareItems, collectItems
        r.Properties.Roles.length === 8,
    );
    expect(callbacks).toHaveLength(1);
    expect(JSON.stringify(callbacks[0]?.Properties?.PolicyDocument)).toContain(`{"Ref":"${machineId}"}`);
  });

  it('names every agent function by rule, so the orchestrator needs only agent names (no ARN map in 4 KB)', () => {
    // Prepare
    const fns = Object.values(raw.Resources).filter(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        (r as { Metadata?: Record<string, string> }).Metadata?.['baton:agent'],
    ) as { Properties?: Record<string, unknown>; Metadata?: Record<string, string> }[];
    const vars = (handler: string): Record<string, string> => {
      const fn = Object.values(raw.Resources).find(
        (r) => (r as { Metadata?: Record<string, string> }).Metadata?.['baton:handler'] === handler,
      );
      return (
        (fn?.Properties?.Environment as { Variables?: Record<string, string> } | undefined)?.Variables ?? {}
      );
    };

    // Assess
    expect(fns.length).toBeGreaterThan(4);
    for (const fn of fns) expect(fn.Properties?.FunctionName).toBe(`Test-${fn.Metadata?.['baton:agent']}`);
    for (const handler of ['planner', 'stepFailed']) {
      expect(vars(handler).BATON_AGENT_FUNCTION_PREFIX).toBe('Test-');
      expect(vars(handler).BATON_AGENT_NAMES?.split(',').sort()).toEqual(
        fns.map((f) => f.Metadata?.['baton:agent']).sort(),
      );
      expect(vars(handler)).not.toHaveProperty('BATON_AGENT_FUNCTIONS');
    }
  });

  it('keeps every agent function name within Lambda’s 64 characters, whatever the stack’s name', () => {
    // Act
    const long = agentFunctionName(agentFunctionPrefix('A'.repeat(128)), 'a'.repeat(40));
    const other = agentFunctionName(agentFunctionPrefix(`${'A'.repeat(127)}B`), 'a'.repeat(40));

    // Assess
    expect(long.length).toBeLessThanOrEqual(64);
    expect(other).not.toBe(long);
    expect(agentFunctionPrefix('Baton')).toBe('Baton-');
  });

  it('sweeps QUEUED tasks every minute, with a function that may only re-send their start', () => {
    // Assess
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: Match.anyValue() })],
    });
    synth.template.hasResource('AWS::Lambda::Function', {
      Metadata: Match.objectLike({ 'baton:handler': 'sweep' }),
      Properties: Match.objectLike({
        Environment: { Variables: Match.objectLike({ INTAKE_QUEUE_URL: Match.anyValue() }) },
      }),
    });
  });

  it('protects the table from deletion', () => {
    synth.template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      Replicas: [Match.objectLike({ DeletionProtectionEnabled: true })],
    });
  });

  it('throttles each unauthenticated route in the stage', () => {
    // Prepare
    const expected = Object.fromEntries(
      PUBLIC_ROUTES.map((r) => [
        routeKeyOf(r),
        {
          ThrottlingRateLimit: PUBLIC_ROUTE_THROTTLE.rateLimit,
          ThrottlingBurstLimit: PUBLIC_ROUTE_THROTTLE.burstLimit,
        },
      ]),
    );
    // Assess: one setting per public route, and each of those routes has no authorizer.
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      RouteSettings: expected,
      DefaultRouteSettings: Match.objectLike({ ThrottlingRateLimit: Match.anyValue() }),
    });
    for (const r of PUBLIC_ROUTES) {
      synth.template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: routeKeyOf(r),
        AuthorizationType: 'NONE',
      });
    }
    const stage = Object.values(synth.template.findResources('AWS::ApiGatewayV2::Stage'))[0] as {
      DependsOn?: string[];
    };
    expect(stage.DependsOn?.length).toBeGreaterThanOrEqual(PUBLIC_ROUTES.length);
  });
});

describe('no inline secret reaches the template', () => {
  const key = 'sk-live-do-not-deploy';

  it('refuses a model apiKey (deployment model or an agent override) and points to apiKeyEnv', () => {
    // Prepare
    const model = {
      provider: 'openai-compatible',
      baseURL: 'https://llm.example/v1',
      modelId: 'm',
      apiKey: key,
    } as const;
    // Act
    const fromDeployment = synthError({ agents: {} }, model);
    const fromAgent = synthError({ agents: { writing: { model: { apiKey: key } } } });
    // Assess
    for (const err of [fromDeployment, fromAgent]) {
      expect(err).toBeInstanceOf(InlineSecretError);
      expect((err as Error).name).toBe(ErrorNames.InlineSecret);
      expect((err as Error).message).toMatch(/apiKeyEnv/);
      expect((err as Error).message).not.toContain(key);
    }
    expect((fromAgent as Error).message).toContain('agents.writing: model.apiKey');
  });

  it('refuses an MCP server’s credential headers, and keeps other headers and apiKeyEnv', () => {
    // Prepare
    const mcp = (headers: Record<string, string>) => ({
      agents: {
        research: {
          tools: {
            mcp: [{ name: 'docs', transport: 'http' as const, url: 'https://mcp.example/', headers }],
          },
        },
      },
    });
    // Act
    const refused = synthError(mcp({ Authorization: `Bearer ${key}` }));
    const accepted = synthError(mcp({ Accept: 'application/json' }));
    const withEnv = synthError({ agents: { writing: { model: { apiKeyEnv: 'WRITING_KEY' } } } });
    // Assess
    expect(refused).toBeInstanceOf(InlineSecretError);
    expect((refused as Error).message).toContain('tools.mcp "docs" header Authorization');
    expect(accepted).toBeUndefined();
    expect(withEnv).toBeUndefined();
  });
});
