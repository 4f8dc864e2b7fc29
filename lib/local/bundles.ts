/**
 * The bundles of a synthesized assembly as files: each Baton function's bundle and the inputs
 * esbuild put into it (the metafile lib/aws/functions.ts writes beside it, `index.meta.json`).
 * What bench/bundles.ts measures and test/cdk/bundles.test.ts checks.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { METADATA } from '../aws/functions.js';
import { assetDirOf, type BundledAssembly } from './assembly.js';
import { resourcesOfType } from './template.js';

export interface FunctionBundle {
  logicalId: string;
  /** Its bundle (index.mjs). */
  file: string;
  /** Its `baton:*` metadata (entry, handler, agent). */
  metadata: Record<string, unknown>;
  /** Its environment variables as the template gives them (unresolved intrinsics as they are). */
  environment: Record<string, unknown>;
}

/** Every Baton function of the assembly (CDK's own helper functions left out), with its bundle. */
export function assemblyBundles(assembly: BundledAssembly): FunctionBundle[] {
  return resourcesOfType(assembly.template, 'AWS::Lambda::Function')
    .filter(([, r]) => r.Metadata?.[METADATA.entry])
    .map(([id, r]) => {
      const handler = String(r.Properties?.Handler ?? '');
      const base = handler.slice(0, handler.lastIndexOf('.'));
      const variables = (r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables;
      return {
        logicalId: id,
        file: join(assetDirOf(assembly, id), `${base}.mjs`),
        metadata: r.Metadata ?? {},
        environment: variables ?? {},
      };
    });
}

/** The bytes of a bundle's JavaScript (the bundle and any chunk beside it) and of its source map. */
export function bundleBytes(bundleFile: string): { code: number; map: number } {
  const dir = dirname(bundleFile);
  const files = readdirSync(dir);
  const size = (match: (f: string) => boolean) =>
    files.filter(match).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  return { code: size((f) => /\.m?js$/.test(f)), map: size((f) => f.endsWith('.map')) };
}

/** A bundle's inputs (paths relative to the project root) by the bytes each put into it, largest first. */
export function bundleInputs(bundleFile: string): { path: string; bytes: number }[] {
  const meta = join(dirname(bundleFile), 'index.meta.json');
  if (!existsSync(meta)) return [];
  const parsed = JSON.parse(readFileSync(meta, 'utf8')) as {
    outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
  };
  const bytes = new Map<string, number>();
  for (const output of Object.values(parsed.outputs))
    for (const [path, input] of Object.entries(output.inputs))
      bytes.set(path, (bytes.get(path) ?? 0) + input.bytesInOutput);
  return [...bytes].map(([path, b]) => ({ path, bytes: b })).sort((a, b) => b.bytes - a.bytes);
}

/** The package of an input path (`node_modules/<pkg>` or `<scope>/<pkg>`), else its source folder. */
export function packageOf(path: string): string {
  const at = path.lastIndexOf('node_modules/');
  if (at < 0) return dirname(path);
  const parts = path.slice(at + 'node_modules/'.length).split('/');
  return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? path);
}
