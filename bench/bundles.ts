/**
 * Bundle figures: the size of each function's bundle (code and source map) and its module-init
 * time, the cold-start proxy (a fresh Node process imports the bundle, nothing else loaded, no
 * variable but PATH and AWS_REGION). `bench/run.ts` prints them with the rest; alone:
 *
 *   node --import tsx bench/bundles.ts [config.json]    # synthesizes (or reuses) the assembly
 *
 * prints the table and, per bundle, its largest inputs from esbuild's metafile (index.meta.json,
 * written beside each bundle by lib/aws/functions.ts).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { agentCatalog, loadBatonConfig } from '../lambdas/agents/registry.js';
import { METADATA } from '../lib/aws/functions.js';
import { assetDirOf, synthAssembly } from '../lib/local/assembly.js';
import { resourcesOfType } from '../lib/local/template.js';

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
    const dir = dirname(fn.file);
    const files = readdirSync(dir);
    const size = (match: (f: string) => boolean) =>
      files.filter(match).reduce((n, f) => n + statSync(join(dir, f)).size, 0) / 1024;
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
      kb: size((f) => /\.m?js$/.test(f)),
      mapKb: size((f) => f.endsWith('.map')),
      initMs: probe.status === 0 ? Number(probe.stdout.trim().split('\n').at(-1)) : null,
      ...(probe.status === 0 ? {} : { error: probe.stderr.split('\n')[0] }),
    });
  }
  return out.sort((a, b) => b.kb - a.kb);
}

/** A bundle's inputs by the bytes they put into its output (esbuild's metafile), largest first. */
export function bundleInputs(bundleFile: string): { path: string; kb: number }[] {
  const meta = join(dirname(bundleFile), 'index.meta.json');
  if (!existsSync(meta)) return [];
  const parsed = JSON.parse(readFileSync(meta, 'utf8')) as {
    outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
  };
  const bytes = new Map<string, number>();
  for (const output of Object.values(parsed.outputs))
    for (const [path, input] of Object.entries(output.inputs))
      bytes.set(path, (bytes.get(path) ?? 0) + input.bytesInOutput);
  return [...bytes].map(([path, b]) => ({ path, kb: b / 1024 })).sort((a, b) => b.kb - a.kb);
}

/** Inputs grouped by package (node_modules/<pkg> or <scope>/<pkg>), else by source folder. */
export function inputsByPackage(inputs: { path: string; kb: number }[]): { name: string; kb: number }[] {
  const total = new Map<string, number>();
  for (const { path, kb } of inputs) {
    const at = path.lastIndexOf('node_modules/');
    let name: string;
    if (at >= 0) {
      const parts = path.slice(at + 'node_modules/'.length).split('/');
      name = parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? path);
    } else name = dirname(path);
    total.set(name, (total.get(name) ?? 0) + kb);
  }
  return [...total].map(([name, kb]) => ({ name, kb })).sort((a, b) => b.kb - a.kb);
}

/** The Baton functions of a synthesized assembly: logical id and bundle file. */
export function assemblyFunctions(config?: string): { logicalId: string; file: string }[] {
  const assembly = synthAssembly(agentCatalog(loadBatonConfig(config)), { configPath: config });
  return resourcesOfType(assembly.template, 'AWS::Lambda::Function')
    .filter(([, r]) => r.Metadata?.[METADATA.entry])
    .map(([id, r]) => {
      const handler = String(r.Properties?.Handler ?? '');
      const base = handler.slice(0, handler.lastIndexOf('.'));
      return { logicalId: id, file: join(assetDirOf(assembly, id), `${base}.mjs`) };
    });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const config = resolve(process.argv[2] ?? join(import.meta.dirname, '../test/fixtures/baton.config.json'));
  const functions = assemblyFunctions(config);
  const files = new Map(functions.map((f) => [f.logicalId, f.file]));
  for (const b of measureBundles(functions)) {
    const top = inputsByPackage(bundleInputs(files.get(b.function) ?? ''))
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
