/**
 * cdk-nag (AwsSolutions) over the Baton stack: every finding is fixed, or acknowledged in
 * lib/aws/nag.ts with its reason. A new unexplained finding fails this test.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { agentCatalog } from '../../lambdas/agents/registry.js';
import { acknowledgeNagFindings } from '../../lib/aws/nag.js';
import { BatonStack } from '../../lib/aws/stack.js';

interface Report {
  pluginReports: {
    pluginName: string;
    violations: { ruleName: string; severity: string; violatingConstructs: { constructPath: string }[] }[];
  }[];
}

describe('cdk-nag AwsSolutions', () => {
  it('leaves no finding unexplained', () => {
    // Prepare
    process.env.CDK_VALIDATION = 'false';
    const outdir = mkdtempSync(join(tmpdir(), 'baton-nag-'));
    const app = new App({
      outdir,
      context: { 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:failSynthOnValidationErrors': false },
    });
    const stack = new BatonStack(app, 'Nag', {
      agents: agentCatalog({ config: { agents: {} }, baseDir: '.' }),
    });
    acknowledgeNagFindings(stack);
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    // Act
    app.synth();
    // Assess
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as Report;
    rmSync(outdir, { recursive: true, force: true });
    const findings = report.pluginReports.flatMap((p) =>
      p.violations.map(
        (v) =>
          `${v.severity} ${v.ruleName} at ${v.violatingConstructs.map((c) => c.constructPath).join(', ')}`,
      ),
    );
    expect(findings).toEqual([]);
  });
});
