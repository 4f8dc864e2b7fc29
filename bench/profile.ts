/**
 * Where a step's time goes: `npm run bench:profile` runs a chain of echo steps on one local
 * runtime under V8's CPU profiler (every thread: the runtime's main thread, where the emulators
 * run, and each Lambda sandbox's worker thread) and prints CPU milliseconds per step by
 * component. Frames in a bundle are mapped back to their source through the bundle's source map,
 * so the AWS SDK, Powertools, zod and Baton's own code are told apart inside a function.
 *
 * Run it as `node --cpu-prof --cpu-prof-dir=<dir> --import tsx bench/profile.ts` (the npm script
 * does); it reads the profiles from that directory once the process that wrote them exits, so
 * it re-runs itself: the parent starts the profiled child, then reads the child's profiles.
 * Nothing here is asserted by a test; figures depend on the machine.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const STEPS = Number(process.env.PROFILE_STEPS ?? 30);
/** `PROFILE_BURST=N`: profile N one-step tasks submitted at once instead of the chain (per task). */
const BURST = Number(process.env.PROFILE_BURST ?? 0);
/** What the figures are per: a step of the chain, or a task of the burst (how many, and of what). */
const UNITS = BURST > 0 ? BURST : STEPS;
const PER = BURST > 0 ? 'task' : 'step';
const UNIT = BURST > 0 ? `task (burst of ${BURST} one-step tasks)` : `step (chain of ${STEPS})`;
const here = fileURLToPath(import.meta.url);
/** Source maps of the bundles, read once each. */
const maps = new Map<string, SourceMap | null>();

if (process.env.BATON_PROFILE_CHILD) {
  await workload();
} else {
  const dir = mkdtempSync(join(tmpdir(), 'baton-profile-'));
  const child = spawnSync(
    process.execPath,
    ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=250', '--import', 'tsx', here],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, BATON_PROFILE_CHILD: '1', BATON_SANDBOX_CPU_PROF_DIR: dir },
    },
  );
  if (child.status !== 0) throw new Error(`the profiled run failed (exit ${child.status})`);
  const window = JSON.parse(readFileSync(join(dir, 'window.json'), 'utf8')) as Window;
  report(dir, window);
  if (!process.env.PROFILE_KEEP) rmSync(dir, { recursive: true, force: true });
  else console.log(`profiles kept in ${dir}`);
}

/** The child: a runtime, a warm-up task, then the chain (its window in profile time is saved). */
async function workload() {
  const { startLocalRuntime } = await import('../lib/local/runtime.js');
  const { DEFAULT_MAX_SANDBOXES } = await import('../lib/local/functions.js');
  const dataDir = mkdtempSync(join(tmpdir(), 'baton-profile-data-'));
  const config = resolve(import.meta.dirname, '../test/fixtures/baton.config.json');
  const rt = await startLocalRuntime({ dataDir, port: 0, apiKey: 'p', configPath: config, log: () => {} });
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${rt.url}${path}`, {
      method,
      headers: { authorization: 'Bearer p', 'content-type': 'application/json' },
      body: body ? JSON.stringify(body) : undefined,
    });
    return (await res.json()) as { taskId: string; status: string };
  };
  const run = async (steps: number, chained = true) => {
    const plan = {
      steps: Array.from({ length: steps }, (_, i) => ({
        id: `s${i}`,
        agent: 'echo',
        ...(i && chained ? { dependsOn: [`s${i - 1}`] } : {}),
      })),
    };
    const { taskId } = await api('POST', '/tasks', { goal: 'profile', plan });
    return ended(taskId);
  };
  const ended = async (taskId: string) => {
    for (;;) {
      const t = await api('GET', `/tasks/${taskId}/status`);
      if (['SUCCEEDED', 'FAILED', 'DEGRADED', 'CANCELLED'].includes(t.status)) return t.status;
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const burst = async (n: number) => {
    const ids = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        api('POST', '/tasks', { goal: `burst ${i}`, plan: { steps: [{ id: 'a', agent: 'echo' }] } }),
      ),
    );
    const statuses = await Promise.all(ids.map((r) => ended(r.taskId)));
    return [...new Set(statuses)].join(', ');
  };
  // Warm: as wide as a function's sandbox pool (a chain starts all its gates at once), so that
  // the profile is of warm functions (cold starts are the bundles' init times: bench/bundles.ts).
  // A burst warms with a burst as wide (every function its whole sandbox pool).
  if (BURST > 0) await burst(BURST);
  else await run(DEFAULT_MAX_SANDBOXES, false);
  await rt.idle();
  // Profile timestamps are microseconds of the monotonic clock, as process.hrtime's.
  const micros = () => Number(process.hrtime.bigint() / 1000n);
  const calls0 = new Map(rt.iam.callCountsByCaller);
  const from = micros();
  const t0 = performance.now();
  const status = BURST > 0 ? await burst(BURST) : await run(STEPS);
  await rt.idle();
  const wallMs = performance.now() - t0;
  const to = micros();
  console.error(
    `${UNIT}: ${status} in ${Math.round(wallMs)} ms (${(wallMs / UNITS).toFixed(1)} ms a ${PER})`,
  );
  await rt.close();
  rmSync(dataDir, { recursive: true, force: true });
  const dir = process.execArgv.find((a) => a.startsWith('--cpu-prof-dir='))?.split('=')[1];
  // Which function each bundle is (a sandbox's profile is told by the bundle it ran).
  const calls: Record<string, number> = {};
  for (const [k, v] of rt.iam.callCountsByCaller) {
    const n = v - (calls0.get(k) ?? 0);
    if (n > 0) calls[k] = n / UNITS;
  }
  const bundles = Object.fromEntries([...rt.functions.values()].map((f) => [dirname(f.file), f.logicalId]));
  if (dir) writeFileSync(join(dir, 'window.json'), JSON.stringify({ from, to, wallMs, bundles, calls }));
}

interface Window {
  from: number;
  to: number;
  /** Bundle directory -> the function's logical id. */
  bundles: Record<string, string>;
  /** AWS calls per step, by caller and action (local IAM's count). */
  calls: Record<string, number>;
}

interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { url: string; functionName: string; lineNumber: number; columnNumber: number };
  }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Which component a frame belongs to: a package, Node's internals, or a part of Baton. */
function componentOf(url: string): string {
  if (!url) return '(native / GC / idle)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    const pkg = rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? '?');
    return pkg.startsWith('@aws-sdk/') || pkg.startsWith('@smithy/') ? 'AWS SDK (@aws-sdk, @smithy)' : pkg;
  }
  if (url.startsWith('node:')) {
    const mod = url.slice(5).replace(/^internal\//, '');
    if (/^(http|_http|https|net|stream|streams|dns|tls|url)/.test(mod)) return 'node: http, net, streams';
    if (/^(worker|process|timers|async_hooks|event)/.test(mod)) return 'node: workers, timers, events';
    return 'node: other';
  }
  const m = /\/(lib\/local\/[a-z-]+|lib\/[a-z]+|lambdas\/[a-z]+|bench|bin)\//.exec(url);
  if (m) return m[1] === 'lib/local/sfn' ? 'lib/local/sfn (engine glue)' : (m[1] ?? url);
  return url
    .replace(/^file:\/\//, '')
    .split('/')
    .slice(-2)
    .join('/');
}

/** The original source of a bundle frame (through `index.mjs.map` beside the bundle). */
function sourceUrl(url: string, line: number, column: number): string {
  if (!/\/asset\.[^/]+\/index\.mjs$/.test(url)) return url;
  let map = maps.get(url);
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, 'utf8')));
    } catch {
      map = null;
    }
    maps.set(url, map);
  }
  const entry = map?.findEntry(line, column) as { originalSource?: string } | undefined;
  return entry?.originalSource ?? url;
}

function report(dir: string, window: Window) {
  const byThread: Record<string, Map<string, number>> = {};
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    // The main thread's profile has the runtime's own code; a worker's, one sandbox's bundle.
    const bundle = profile.nodes.find((n) => /\/index\.mjs$/.test(n.callFrame.url))?.callFrame.url;
    const fn = bundle ? window.bundles[dirname(fileURLToPath(bundle))] : undefined;
    const thread = profile.nodes.some((n) => n.callFrame.url.includes('/lib/local/runtime.'))
      ? 'main thread (emulators, engine, IAM, HTTP)'
      : `sandboxes of ${fn ?? 'an unknown function'}`;
    const tally = byThread[thread] ?? new Map<string, number>();
    byThread[thread] = tally;
    let t = profile.startTime;
    for (let i = 0; i < profile.samples.length; i++) {
      t += profile.timeDeltas[i] ?? 0;
      if (t < window.from || t > window.to) continue;
      const node = nodes.get(profile.samples[i] ?? -1);
      if (!node) continue;
      const { url, functionName, lineNumber, columnNumber } = node.callFrame;
      if (functionName === '(idle)' || functionName === '(program)') continue;
      const component =
        functionName === '(garbage collector)'
          ? '(garbage collector)'
          : componentOf(sourceUrl(url, lineNumber, columnNumber));
      tally.set(component, (tally.get(component) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
    }
  }
  const wallMs = (window.to - window.from) / 1000;
  const total = Object.values(window.calls).reduce((a, b) => a + b, 0);
  console.log(`AWS calls per ${UNIT}: ${total.toFixed(1)}`);
  for (const [k, v] of Object.entries(window.calls).sort((a, b) => a[0].localeCompare(b[0])))
    console.log(`  ${k.padEnd(60)} ${v.toFixed(2).padStart(6)}`);
  console.log(`\nCPU ms per ${UNIT} by component (${(wallMs / UNITS).toFixed(1)} ms wall each)\n`);
  for (const [thread, tally] of Object.entries(byThread)) {
    const total = [...tally.values()].reduce((a, b) => a + b, 0);
    console.log(`${thread}: ${(total / UNITS).toFixed(1)} ms CPU per ${PER}`);
    for (const [component, ms] of [...tally].sort((a, b) => b[1] - a[1]).slice(0, 14)) {
      console.log(
        `  ${component.padEnd(44)} ${(ms / UNITS).toFixed(2).padStart(7)} ms  ${((100 * ms) / total).toFixed(1).padStart(5)} %`,
      );
    }
  }
}
