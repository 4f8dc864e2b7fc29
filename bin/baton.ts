/**
 * The Baton CLI: a thin client of the HTTP API with readable errors.
 *   npm run baton -- submit --goal "…" [--plan plan.json] [--inputs inputs.json] [--key K] [--wait]
 *   npm run baton -- status <taskId> | events <taskId> | artifacts <taskId> | get <taskId> <artifactId> [--out F]
 *   npm run baton -- cancel <taskId> | redrive <taskId> | list [--status S] | dead-letters
 * BATON_URL (default http://127.0.0.1:3000) and BATON_API_KEY (default: the local data dir's key).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BatonError, ErrorNames } from '../lambdas/core/errors.js';

class CliError extends BatonError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.CliError;
  }
}

const USAGE = `usage: baton <command> [args]
  submit --goal "<text>" [--plan plan.json] [--inputs inputs.json] [--key <idempotency key>] [--wait]
  status <taskId>            the task, its plan and step states
  events <taskId>            the audit trail
  artifacts <taskId>         artifact list
  get <taskId> <artifactId> [--out file]
  cancel <taskId>  |  redrive <taskId>  |  list [--status S]  |  dead-letters
env: BATON_URL (default http://127.0.0.1:3000), BATON_API_KEY (default: <BATON_DATA_DIR or .baton>/api-key)`;

function apiKey(): string | undefined {
  if (process.env.BATON_API_KEY) return process.env.BATON_API_KEY;
  const file = join(process.env.BATON_DATA_DIR ?? '.baton', 'api-key');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

function readJson(path: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CliError(`cannot read ${what} from ${path}: ${(err as Error).message}`, { cause: err });
  }
}

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  const base = process.env.BATON_URL ?? 'http://127.0.0.1:3000';
  const key = apiKey();
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new CliError(`cannot reach Baton at ${base} (is \`npm start\` running? set BATON_URL otherwise)`, {
      cause: err,
    });
  }
  if (!res.ok) {
    const text = await res.text();
    let problem: { title?: string; detail?: string; issues?: { path: string; message: string }[] } = {};
    try {
      problem = JSON.parse(text);
    } catch {
      problem = { detail: text };
    }
    const lines = [`${res.status} ${problem.title ?? res.statusText}: ${problem.detail ?? ''}`.trim()];
    for (const i of problem.issues ?? []) lines.push(`  - ${i.path}: ${i.message}`);
    throw new CliError(lines.join('\n'));
  }
  return res;
}

const print = (v: unknown): void => {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
};

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      goal: { type: 'string' },
      plan: { type: 'string' },
      inputs: { type: 'string' },
      key: { type: 'string' },
      wait: { type: 'boolean' },
      status: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...args] = positionals;
  const need = (n: number, what: string) => {
    if (args.length < n) throw new CliError(`${command} needs ${what}\n${USAGE}`);
    return args;
  };
  switch (command) {
    case 'submit': {
      if (!values.goal) throw new CliError(`submit needs --goal "<text>"\n${USAGE}`);
      const body = {
        goal: values.goal,
        ...(values.plan ? { plan: readJson(values.plan, 'the plan') } : {}),
        ...(values.inputs ? { inputs: readJson(values.inputs, 'the inputs') } : {}),
      };
      const res = (await (
        await call('POST', '/tasks', body, values.key ? { 'idempotency-key': values.key } : {})
      ).json()) as {
        taskId: string;
      };
      if (!values.wait) return print(res);
      for (;;) {
        const t = (await (await call('GET', `/tasks/${res.taskId}`)).json()) as { status: string };
        if (['SUCCEEDED', 'DEGRADED', 'FAILED', 'CANCELLED'].includes(t.status)) return print(t);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    case 'status':
      return print(await (await call('GET', `/tasks/${need(1, 'a task id')[0]}`)).json());
    case 'events':
      return print(await (await call('GET', `/tasks/${need(1, 'a task id')[0]}/events?limit=1000`)).json());
    case 'artifacts':
      return print(await (await call('GET', `/tasks/${need(1, 'a task id')[0]}/artifacts`)).json());
    case 'get': {
      const [taskId, artifactId] = need(2, 'a task id and an artifact id');
      const bytes = Buffer.from(
        await (await call('GET', `/tasks/${taskId}/artifacts/${artifactId}`)).arrayBuffer(),
      );
      if (values.out) writeFileSync(values.out, bytes);
      else process.stdout.write(bytes);
      return;
    }
    case 'cancel':
      return print(await (await call('POST', `/tasks/${need(1, 'a task id')[0]}/cancel`)).json());
    case 'redrive':
      return print(await (await call('POST', `/tasks/${need(1, 'a task id')[0]}/redrive`)).json());
    case 'list':
      return print(
        await (
          await call('GET', `/tasks${values.status ? `?status=${encodeURIComponent(values.status)}` : ''}`)
        ).json(),
      );
    case 'dead-letters':
      return print(await (await call('GET', '/dead-letters')).json());
    default:
      if (values.help || !command) {
        process.stdout.write(`${USAGE}\n`);
        return;
      }
      throw new CliError(`unknown command "${command}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(
    `baton: ${err instanceof CliError || err.name === 'TypeError' ? err.message : String(err)}\n`,
  );
  process.exit(1);
});
