/**
 * The synthesized stack against the contracts:
 * - the definition against the Lambda contracts (lambdas/core/states.ts): for every Lambda task
 *   state, the function it invokes names the contract; its Payload keys are that contract's
 *   input keys (every required one, optional ones where the state has them) and its
 *   ResultSelector keeps output keys only. A field renamed on one side fails here;
 * - every function's environment against its schema (lambdas/core/env.ts).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FUNCTION_ENV, parseEnv } from '../../lambdas/core/env.js';
import { PlannedItem, STATE_CONTRACTS, type StateContract } from '../../lambdas/core/states.js';
import { type CfnTemplate, defaultLocalNames, resolveIntrinsics } from '../../lib/local/template.js';
import { StepIteration } from '../../lib/workflow/contract.js';
import { STATE } from '../../lib/workflow/definition.js';
import { type Asl, type State, type Synthesized, synthStack } from './synth.js';

let synth: Synthesized;
beforeAll(() => {
  synth = synthStack();
});

/** Every state of the definition, the Map's iteration included. */
function allStates(asl: Asl): [string, State][] {
  return Object.entries(asl.States).flatMap(([name, st]): [string, State][] => {
    const inner = (st as { ItemProcessor?: Asl }).ItemProcessor;
    return [[name, st], ...(inner ? allStates(inner) : [])];
  });
}

const keyOf = (k: string) => (k.endsWith('.$') ? k.slice(0, -2) : k);
const shapeOf = (schema: z.ZodType): Record<string, z.ZodType> => {
  if (!(schema instanceof z.ZodObject)) throw new Error('a Lambda contract is an object schema');
  return schema.shape as Record<string, z.ZodType>;
};
const isOptional = (field: z.ZodType) => field.safeParse(undefined).success;

/** The contract of the function a task state invokes, by its handler (the step runner's too). */
function contractOf(state: State): { handler: string; contract: StateContract } {
  const params = state.Parameters as Record<string, unknown>;
  const logicalId = String(params.FunctionName).split(':').at(-1) as string;
  const fn = synth.template.toJSON().Resources[logicalId] as { Metadata?: Record<string, string> };
  const handler = fn?.Metadata?.['baton:handler'] as keyof typeof STATE_CONTRACTS;
  const contract = STATE_CONTRACTS[handler];
  if (!contract) throw new Error(`No contract for the function ${logicalId} (handler ${handler})`);
  return { handler, contract };
}

describe('Lambda task states follow their contracts', () => {
  it('has a contract for every Lambda task state, and every contract is used', () => {
    // Prepare
    const lambdaStates = allStates(synth.asl).filter(([, st]) =>
      String(st.Resource).startsWith('arn:aws:states:::lambda:invoke'),
    );
    // Act
    const handlers = new Set(lambdaStates.map(([, st]) => contractOf(st).handler));
    // Assess
    expect(lambdaStates.length).toBeGreaterThanOrEqual(16);
    expect([...handlers].sort()).toEqual(Object.keys(STATE_CONTRACTS).sort());
  });

  it('passes exactly the input schema keys (all required ones) as Payload, constants valid', () => {
    for (const [name, st] of allStates(synth.asl)) {
      if (!String(st.Resource).startsWith('arn:aws:states:::lambda:invoke')) continue;
      // Prepare
      const { contract } = contractOf(st);
      const shape = shapeOf(contract.input);
      const payload = st.Parameters?.Payload ?? {};
      // Act
      const keys = Object.keys(payload).map(keyOf);
      const required = Object.keys(shape).filter((k) => !isOptional(shape[k] as z.ZodType));
      // Assess
      expect(
        keys.filter((k) => !(k in shape)),
        `${name}: keys not in the input schema`,
      ).toEqual([]);
      expect(
        required.filter((k) => !keys.includes(k)),
        `${name}: required keys missing`,
      ).toEqual([]);
      for (const [k, v] of Object.entries(payload)) {
        if (k.endsWith('.$')) expect(String(v), `${name}.${k}`).toMatch(/^\$/);
        else expect((shape[k] as z.ZodType).safeParse(v).success, `${name}.${k} = ${String(v)}`).toBe(true);
      }
    }
  });

  it('selects output schema keys only, each from the Lambda result of the same name', () => {
    let selectors = 0;
    for (const [name, st] of allStates(synth.asl)) {
      if (!String(st.Resource).startsWith('arn:aws:states:::lambda:invoke') || !st.ResultSelector) continue;
      // Prepare
      const shape = shapeOf(contractOf(st).contract.output);
      const selector = st.ResultSelector as Record<string, string>;
      selectors += 1;
      // Assess
      for (const [k, path] of Object.entries(selector)) {
        expect(k, `${name}: a selector is a path`).toMatch(/\.\$$/);
        expect(keyOf(k) in shape, `${name}: ${keyOf(k)} is not an output key`).toBe(true);
        expect(path, name).toBe(`$.Payload.${keyOf(k)}`);
      }
    }
    expect(selectors).toBeGreaterThanOrEqual(9);
  });

  it("builds each step's iteration state from Plan's items", () => {
    // Prepare
    const selector = (synth.asl.States[STATE.runSteps] as { ItemSelector: Record<string, string> })
      .ItemSelector;
    // Act
    const keys = Object.keys(selector).map(keyOf);
    const itemFields = Object.values(selector)
      .filter((p) => p.startsWith('$$.Map.Item.Value.'))
      .map((p) => p.slice('$$.Map.Item.Value.'.length));
    // Assess
    expect(keys.sort()).toEqual(Object.keys(StepIteration.shape).sort());
    expect(itemFields.filter((f) => !(f in PlannedItem.shape))).toEqual([]);
  });
});

describe('function environments follow their schemas', () => {
  type Fn = {
    Metadata?: Record<string, string>;
    Properties: { Environment?: { Variables?: Record<string, unknown> } };
  };
  /** Every Baton function of the template with the schema of its environment. */
  const functions = () =>
    Object.entries(synth.template.findResources('AWS::Lambda::Function') as Record<string, Fn>)
      .filter(([, fn]) => fn.Metadata?.['baton:entry'])
      .map(([id, fn]) => {
        const meta = fn.Metadata ?? {};
        const name: keyof typeof FUNCTION_ENV = meta['baton:agent']
          ? 'agent'
          : meta['baton:entry'] === 'lambdas/api/handler.ts'
            ? 'api'
            : (meta['baton:handler'] as keyof typeof FUNCTION_ENV);
        return { id, name, schema: FUNCTION_ENV[name], vars: fn.Properties.Environment?.Variables ?? {} };
      });

  it('gives every function a schema, and uses every schema', () => {
    // Act
    const names = new Set(functions().map((f) => f.name));
    // Assess
    expect(functions().every((f) => f.schema !== undefined)).toBe(true);
    expect([...names].sort()).toEqual(Object.keys(FUNCTION_ENV).sort());
  });

  it("sets every variable a function's schema requires, and none it does not know", () => {
    for (const { id, schema, vars } of functions()) {
      // Prepare
      const shape = schema.shape as Record<string, z.ZodType>;
      const required = Object.keys(shape).filter((k) => !isOptional(shape[k] as z.ZodType));
      // Assess
      expect(
        required.filter((k) => !(k in vars)),
        `${id}: required variables not set`,
      ).toEqual([]);
      expect(
        Object.keys(vars).filter((k) => !(k in shape)),
        `${id}: variables not in its schema`,
      ).toEqual([]);
    }
  });

  it('sets values each function can parse (resolved as the local runtime resolves them)', () => {
    // Prepare
    const raw = synth.template.toJSON() as CfnTemplate;
    const names = defaultLocalNames((n) => `http://127.0.0.1:9324/000000000000/${n}`);
    for (const { id, name, schema, vars } of functions()) {
      const resolved = resolveIntrinsics(vars, raw, names) as Record<string, unknown>;
      const env = Object.fromEntries(Object.entries(resolved).map(([k, v]) => [k, String(v)]));
      // The HTTP API's URL does not resolve locally: the local runtime gives its own.
      if ('BATON_PUBLIC_URL' in env) env.BATON_PUBLIC_URL = 'http://127.0.0.1:3000';
      // Act + Assess: throws, naming the variable, if one is malformed
      expect(() => parseEnv(schema, `${id} (${name})`, env)).not.toThrow();
    }
  });
});
