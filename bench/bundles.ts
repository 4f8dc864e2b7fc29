/**
 * Bundle figures: the size of each function's bundle (code and source map) and its module-init
 * time, the cold-start proxy (a fresh Node process imports the bundle, nothing else loaded, no
 * variable but PATH and AWS_REGION). `bench/run.ts` prints them with the rest; alone:
 *
 *   node --import tsx bench/bundles.ts [config.json]    # synthesizes (or reuses) the assembly
 *
 * prints the table and, per bundle, its largest packages by esbuild's metafile (index.meta.json,
 * written beside each bundle by lib/aws/functions.ts).
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { agentCatalog, loadBatonConfig } from '../lambdas/agents/registry.js';
import { synthAssembly } from '../lib/local/assembly.js';
import { assemblyBundles, bundleBytes, bundleInputs, packageOf } from '../lib/local/bundles.js';

export interface BundleFigure {
  function: string;
  /** The bundle's JavaScript (index.mjs and any chunk), KB. */
  kb: number;
  /** Its source map, beside it, KB. */
  mapKb: number;
  /** Importing it in a fresh Node process, ms; null when the import failed. */
  initMs: number | null;
  error?: string;
}

/** Size and module init of each bundle, largest first. */
export function measureBundles(functions: Iterable<{ logicalId: string; file: string }>): BundleFigure[] {
  const out: BundleFigure[] = [];
  for (const fn of functions) {
    const bytes = bundleBytes(fn.file);
    const probe = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const t=performance.now(); await import(${JSON.stringify(pathToFileURL(fn.file).href)}); console.log(performance.now()-t);`,
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', AWS_REGION: 'us-east-1' }, timeout: 30_000 },
    );
    out.push({
      function: fn.logicalId,
      kb: bytes.code / 1024,
      mapKb: bytes.map / 1024,
      initMs: probe.status === 0 ? Number(probe.stdout.trim().split('\n').at(-1)) : null,
      ...(probe.status === 0 ? {} : { error: probe.stderr.split('\n')[0] }),
    });
  }
  return out.sort((a, b) => b.kb - a.kb);
}

/** A bundle's inputs grouped by package, KB, largest first. */
export function packagesOf(bundleFile: string): { name: string; kb: number }[] {
  const total = new Map<string, number>();
  for (const { path, bytes } of bundleInputs(bundleFile))
    total.set(packageOf(path), (total.get(packageOf(path)) ?? 0) + bytes / 1024);
  return [...total].map(([name, kb]) => ({ name, kb })).sort((a, b) => b.kb - a.kb);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const config = resolve(process.argv[2] ?? join(import.meta.dirname, '../test/fixtures/baton.config.json'));
  const assembly = synthAssembly(agentCatalog(loadBatonConfig(config)), { configPath: config });
  const functions = assemblyBundles(assembly);
  const files = new Map(functions.map((f) => [f.logicalId, f.file]));
  for (const b of measureBundles(functions)) {
    const top = packagesOf(files.get(b.function) ?? '')
      .slice(0, 6)
      .map((p) => `${p.name} ${p.kb.toFixed(0)}`)
      .join(', ');
    console.log(
      `${b.function.padEnd(28)} ${b.kb.toFixed(0).padStart(6)} KB  map ${b.mapKb.toFixed(0).padStart(5)} KB  init ${
        b.initMs === null ? `failed: ${b.error}` : `${b.initMs.toFixed(0).padStart(4)} ms`
      }${top ? `  | ${top}` : ''}`,
    );
  }
}
