/**
 * The `baton` CLI on the typed client (lib/client): parses the command line, calls the API,
 * prints lines for people or the API's JSON (`--json`), and returns the exit code (lib/cli/errors.ts).
 * bin/baton.ts runs it; test/unit/cli.test.ts and test/integration/cli.test.ts test it.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  type BatonAuth,
  type BatonClient,
  createBatonClient,
  type DecisionRequest,
  type TaskEvent,
  type TaskView,
} from '../client/index.js';
import { CliError, EXIT, usageError } from './errors.js';
import {
  approvalsTable,
  artifactsTable,
  deadLettersTable,
  decisionLine,
  duration,
  eventRows,
  failureReason,
  isTerminal,
  plural,
  problemLines,
  Transitions,
  taskLines,
  tasksTable,
} from './format.js';

export const USAGE = `usage: baton <command> [options]

commands:
  submit --goal "<text>" [--file plan.json] [--idempotency-key K] [--follow]
                         submit a task; --file holds { goal?, plan, inputs?, policy? } (or a bare
                         plan { steps }); --follow prints each step's transitions until the task ends
  status <taskId> [--follow]      the task, its steps and their states
  events <taskId>                 the whole audit trail (every page)
  artifacts <taskId>              the task's artifacts
  get <taskId> <artifactId> [--out file]   an artifact's bytes (to stdout without --out)
  approvals [--status PENDING|DECIDED|EXPIRED]   approvals, with their ids
  approve <approvalId> [--comment "…"]     decide an approval gate
  reject <approvalId> [--comment "…"]
  cancel <taskId>  |  redrive <taskId>
  list [--status S] [--limit N] [--cursor C]   tasks, newest first
  dead-letters [--all]            failed runs not redriven (--all: also redriven ones)

options:
  --json            print the API's JSON documents (--follow: one JSON object per line,
                    {"event":…} for each event, then {"task":…})
  --url URL         the API (default $BATON_URL, else http://127.0.0.1:3000)
  --auth bearer|sigv4|none   default $BATON_AUTH, else bearer
                    bearer: $BATON_API_KEY, else <$BATON_DATA_DIR or .baton>/api-key (local mode)
                    sigv4: a deployed API (IAM); AWS credentials from the standard chain
                    (env, ~/.aws config and SSO, web identity, container or instance role)
  --region R        sigv4 region (default $AWS_REGION, $AWS_DEFAULT_REGION, or from the URL)

exit codes:
  0  done (--follow: the task SUCCEEDED)
  1  --follow: the task ended DEGRADED, FAILED or CANCELLED (the reason and failed steps on stderr)
  2  usage: unknown command or option, missing argument, unreadable --file,
     no AWS credentials for --auth sigv4
  3  the API refused the request (4xx; its problem title, detail and issues on stderr)
  4  Baton unreachable, or failed on its side (5xx)`;

export interface CliIo {
  stdout: (chunk: string | Uint8Array) => void;
  stderr: (chunk: string) => void;
  env: Record<string, string | undefined>;
  cwd: string;
  /** How long --follow waits between polls (default 500 ms). */
  pollMs?: number;
}

const OPTIONS = {
  goal: { type: 'string' },
  file: { type: 'string', short: 'f' },
  plan: { type: 'string' },
  inputs: { type: 'string' },
  'idempotency-key': { type: 'string' },
  key: { type: 'string' },
  follow: { type: 'boolean' },
  wait: { type: 'boolean' },
  json: { type: 'boolean' },
  status: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  all: { type: 'boolean' },
  out: { type: 'string', short: 'o' },
  comment: { type: 'string' },
  url: { type: 'string' },
  auth: { type: 'string' },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS, strict: true });
  } catch (err) {
    throw usageError(`${(err as Error).message}\nrun \`baton --help\` for the commands and options`);
  }
}

/** The region of an execute-api URL (https://<id>.execute-api.<region>.amazonaws.com). */
const regionOfUrl = (url: string) => /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com/.exec(url)?.[1];

export function resolveAuth(values: Values, env: CliIo['env'], cwd: string, url: string): BatonAuth {
  const mode = values.auth ?? env.BATON_AUTH ?? 'bearer';
  switch (mode) {
    case 'sigv4': {
      const region = values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? regionOfUrl(url);
      if (!region)
        throw usageError('--auth sigv4 needs a region: --region, AWS_REGION or an execute-api URL');
      return { type: 'sigv4', region };
    }
    case 'bearer': {
      if (env.BATON_API_KEY) return { type: 'bearer', token: env.BATON_API_KEY };
      const file = join(resolve(cwd, env.BATON_DATA_DIR ?? '.baton'), 'api-key');
      return existsSync(file)
        ? { type: 'bearer', token: readFileSync(file, 'utf8').trim() }
        : { type: 'none' };
    }
    case 'none':
      return { type: 'none' };
    default:
      throw usageError(`--auth must be bearer, sigv4 or none (got "${mode}")`);
  }
}

function readJsonFile(path: string, cwd: string, what: string): unknown {
  const full = isAbsolute(path) ? path : resolve(cwd, path);
  try {
    return JSON.parse(readFileSync(full, 'utf8'));
  } catch (err) {
    throw usageError(`cannot read ${what} from ${path}: ${(err as Error).message}`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** The POST /tasks body from --goal, --file (and the older --plan / --inputs). */
export function submitBody(values: Values, cwd: string): Record<string, unknown> {
  let file: Record<string, unknown> = {};
  if (values.file) {
    const raw = readJsonFile(values.file, cwd, 'the task');
    if (!isObject(raw))
      throw usageError(`${values.file} must hold a JSON object { goal?, plan, inputs?, policy? }`);
    // A bare plan ({ steps }) is accepted as the plan.
    file = Array.isArray(raw.steps) && raw.plan === undefined ? { plan: raw } : raw;
  }
  const goal = values.goal ?? file.goal;
  if (typeof goal !== 'string' || goal.trim() === '') {
    throw usageError('submit needs a goal: --goal "<text>", or "goal" in the --file');
  }
  const plan = values.plan ? readJsonFile(values.plan, cwd, 'the plan') : file.plan;
  const inputs = values.inputs ? readJsonFile(values.inputs, cwd, 'the inputs') : file.inputs;
  return {
    goal,
    ...(plan !== undefined ? { plan } : {}),
    ...(inputs !== undefined ? { inputs } : {}),
    ...(file.policy !== undefined ? { policy: file.policy } : {}),
  };
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** Runs one API call: the data of a 2xx answer, else a CliError saying what the API said. */
function caller(url: string, auth: BatonAuth) {
  return async <T>(request: Promise<Answer<T>>): Promise<T> => {
    let res: Answer<T>;
    try {
      res = await request;
    } catch (err) {
      if ((err as Error)?.name === 'CredentialsProviderError') {
        throw new CliError(
          `no AWS credentials for --auth sigv4 (${(err as Error).message}); set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY`,
          EXIT.usage,
          { cause: err },
        );
      }
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new CliError(
        `cannot reach Baton at ${url} (${why}); is \`npm start\` running? Set BATON_URL or --url otherwise`,
        EXIT.unavailable,
        { cause: err },
      );
    }
    const { response } = res;
    if (response.ok && res.error === undefined) return res.data as T;
    const lines = problemLines(response.status, response.statusText, res.error);
    if (response.status === 401) lines.push('  (set BATON_API_KEY, or run where .baton/api-key is)');
    if (response.status === 403 && auth.type !== 'sigv4') lines.push('  (a deployed API needs --auth sigv4)');
    if (response.status === 403 && auth.type === 'sigv4') {
      lines.push('  (check the AWS credentials and their execute-api:Invoke permission)');
    }
    throw new CliError(lines.join('\n'), response.status >= 500 ? EXIT.unavailable : EXIT.apiRefused);
  };
}

function need(args: string[], n: number, what: string, command: string): string[] {
  if (args.length < n) throw usageError(`${command} needs ${what}\nrun \`baton --help\` for the commands`);
  return args;
}

function limitOf(values: Values): number | undefined {
  if (values.limit === undefined) return undefined;
  const n = Number(values.limit);
  if (!Number.isInteger(n) || n < 1)
    throw usageError(`--limit must be a positive integer (got "${values.limit}")`);
  return n;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    if (err instanceof CliError) {
      io.stderr(`baton: ${err.message}\n`);
      return err.exitCode;
    }
    // Anything else is a bug of ours: say what, not a stack trace.
    io.stderr(`baton: unexpected error: ${(err as Error)?.message ?? String(err)}\n`);
    return EXIT.unavailable;
  }
}

async function dispatch(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv);
  const [command, ...args] = positionals;
  if (values.help || !command || command === 'help') {
    io.stdout(`${USAGE}\n`);
    return command || values.help ? EXIT.ok : EXIT.usage;
  }
  const url = (values.url ?? io.env.BATON_URL ?? 'http://127.0.0.1:3000').replace(/\/+$/, '');
  const auth = resolveAuth(values, io.env, io.cwd, url);
  const client = createBatonClient({ baseUrl: url, auth });
  const call = caller(url, auth);
  const json = values.json === true;
  const out = (v: unknown) => io.stdout(`${JSON.stringify(v, null, 2)}\n`);
  const lines = (ls: string[]) => {
    if (ls.length) io.stdout(`${ls.join('\n')}\n`);
  };
  const follow = values.follow === true || values.wait === true;

  switch (command) {
    case 'submit': {
      const body = submitBody(values, io.cwd);
      const key = values['idempotency-key'] ?? values.key;
      const res = await call(
        client.POST('/tasks', {
          // The body's shape is the API's to check: its 400 lists every problem by path.
          body: body as never,
          ...(key ? { params: { header: { 'Idempotency-Key': key } } } : {}),
        }),
      );
      if (!follow) {
        if (json) out(res);
        else lines([`task ${res.taskId}  ${res.status}`, `follow it: baton status ${res.taskId} --follow`]);
        return EXIT.ok;
      }
      if (!json) lines([`task ${res.taskId}  ${res.status}`]);
      return followTask(client, call, res.taskId, io, json);
    }
    case 'status': {
      const [id] = need(args, 1, 'a task id', command) as [string];
      if (follow) return followTask(client, call, id, io, json);
      const view = await call(client.GET('/tasks/{id}', { params: { path: { id } } }));
      if (json) out(view);
      else lines(taskLines(view));
      return EXIT.ok;
    }
    case 'events': {
      const [id] = need(args, 1, 'a task id', command) as [string];
      const events: TaskEvent[] = [];
      let after: number | undefined;
      for (;;) {
        const page = await call(
          client.GET('/tasks/{id}/events', {
            params: { path: { id }, query: { limit: 1000, ...(after !== undefined ? { after } : {}) } },
          }),
        );
        events.push(...page.events);
        if (page.next === undefined) break;
        after = page.next;
      }
      if (json) out({ events });
      else lines(eventRows(events));
      return EXIT.ok;
    }
    case 'artifacts': {
      const [id] = need(args, 1, 'a task id', command) as [string];
      const res = await call(client.GET('/tasks/{id}/artifacts', { params: { path: { id } } }));
      if (json) out(res);
      else lines(res.artifacts.length ? artifactsTable(res.artifacts) : ['no artifacts']);
      return EXIT.ok;
    }
    case 'get': {
      const [id, artifactId] = need(args, 2, 'a task id and an artifact id', command) as [string, string];
      const bytes = await call(
        client.GET('/tasks/{id}/artifacts/{artifactId}', {
          params: { path: { id, artifactId } },
          parseAs: 'arrayBuffer',
        }),
      );
      const buf = new Uint8Array(bytes as ArrayBuffer);
      if (values.out) {
        writeFileSync(resolve(io.cwd, values.out), buf);
        io.stderr(`wrote ${buf.byteLength} bytes to ${values.out}\n`);
      } else io.stdout(buf);
      return EXIT.ok;
    }
    case 'approvals': {
      const status = values.status as 'PENDING' | 'DECIDED' | 'EXPIRED' | undefined;
      const limit = limitOf(values);
      const res = await call(
        client.GET('/approvals', {
          params: { query: { ...(status ? { status } : {}), ...(limit ? { limit } : {}) } },
        }),
      );
      if (json) out(res);
      else lines(res.approvals.length ? approvalsTable(res.approvals) : ['no approvals']);
      return EXIT.ok;
    }
    case 'approve':
    case 'reject': {
      const [id] = need(args, 1, 'an approval id', command) as [string];
      const body: DecisionRequest = {
        decision: command,
        ...(values.comment !== undefined ? { comment: values.comment } : {}),
      };
      const res = await call(
        // Checked against the generated DecisionRequest above; openapi-fetch's Writable<> cannot
        // resolve a body with the recursive JsonValue (`output`) and asks for never.
        client.POST('/approvals/{id}/decision', { params: { path: { id } }, body: body as never }),
      );
      if (json) out(res);
      else lines([decisionLine(res.approval)]);
      return EXIT.ok;
    }
    case 'cancel': {
      const [id] = need(args, 1, 'a task id', command) as [string];
      const res = await call(client.POST('/tasks/{id}/cancel', { params: { path: { id } } }));
      if (json) out(res);
      else lines([`task ${res.taskId}  ${res.status}`]);
      return EXIT.ok;
    }
    case 'redrive': {
      const [id] = need(args, 1, 'a task id', command) as [string];
      const res = await call(client.POST('/tasks/{id}/redrive', { params: { path: { id } } }));
      if (json) out(res);
      else lines([`task ${res.taskId}  ${res.status}  run ${res.run}`]);
      return EXIT.ok;
    }
    case 'list': {
      const status = values.status as TaskView['status'] | undefined;
      const limit = limitOf(values);
      const res = await call(
        client.GET('/tasks', {
          params: {
            query: {
              ...(status ? { status } : {}),
              ...(limit ? { limit } : {}),
              ...(values.cursor ? { cursor: values.cursor } : {}),
            },
          },
        }),
      );
      if (json) out(res);
      else {
        lines(res.tasks.length ? tasksTable(res.tasks) : ['no tasks']);
        if (res.next) lines([`more: baton list --cursor ${res.next}`]);
      }
      return EXIT.ok;
    }
    case 'dead-letters': {
      const limit = limitOf(values);
      const res = await call(
        client.GET('/dead-letters', {
          params: { query: { include: values.all ? 'all' : 'open', ...(limit ? { limit } : {}) } },
        }),
      );
      if (json) out(res);
      else lines(res.deadLetters.length ? deadLettersTable(res.deadLetters) : ['no dead letters']);
      return EXIT.ok;
    }
    default:
      throw usageError(`unknown command "${command}"\nrun \`baton --help\` for the commands`);
  }
}

/**
 * --follow: polls the audit trail from the last event seen (GET /tasks/{id}/events?after=) and
 * the task (GET /tasks/{id}) until the task ends, printing each step transition as it appears;
 * after the end it reads on while the trail holds events back (`heldBack`).
 * SUCCEEDED is exit 0; any other end is exit 1 with the reason and the failed steps.
 */
async function followTask(
  client: BatonClient,
  call: ReturnType<typeof caller>,
  id: string,
  io: CliIo,
  json: boolean,
): Promise<number> {
  const transitions = new Transitions();
  let after: number | undefined;
  const drain = async () => {
    for (;;) {
      const page = await call(
        client.GET('/tasks/{id}/events', {
          params: { path: { id }, query: { limit: 1000, ...(after !== undefined ? { after } : {}) } },
        }),
      );
      for (const e of page.events) {
        if (json) io.stdout(`${JSON.stringify({ event: e })}\n`);
        else for (const line of transitions.lines(e)) io.stdout(`${line}\n`);
      }
      after = page.next ?? page.events.at(-1)?.seq ?? after;
      if (page.next === undefined) return page.heldBack === true;
    }
  };
  const pause = () => new Promise((r) => setTimeout(r, io.pollMs ?? 500));
  for (;;) {
    await drain();
    const view = await call(client.GET('/tasks/{id}', { params: { path: { id } } }));
    if (isTerminal(view.status)) {
      // The last events may wait behind a number still being written (the page's heldBack).
      while (await drain()) await pause();
      if (json) io.stdout(`${JSON.stringify({ task: view })}\n`);
      else {
        const took = duration(Date.parse(view.updatedAt) - Date.parse(view.createdAt));
        io.stdout(
          `task ${view.taskId}  ${view.status}  ${plural(view.plan.steps.length, 'step')}  ${took}\n`,
        );
      }
      if (view.status === 'SUCCEEDED') return EXIT.ok;
      io.stderr(`baton: ${failureReason(view)}\n`);
      return EXIT.taskNotSucceeded;
    }
    await pause();
  }
}
