/**
 * What Baton's bundles get for `semver` (an esbuild alias: lib/aws/functions.ts). Its one
 * importer in them is aws-xray-sdk-core's patcher of the AWS SDK v2 (`captureAWS`), which the
 * SDK loads whole at import but Baton never calls: Powertools Tracer captures SDK v3 clients
 * (`captureAWSv3Client`), which need no semver. The real package (~28 KB minified, dozens of
 * regular expressions compiled at load) would be loaded at every cold start for nothing.
 * test/cdk/bundles.test.ts checks that nothing else in any bundle imports it.
 */
'use strict';

function unbundled() {
  throw new Error(
    "semver is not bundled (lambdas/shared/semver-unbundled.cjs): aws-xray-sdk-core's captureAWS, for the AWS SDK v2, is not supported; capture SDK v3 clients",
  );
}

module.exports = { gte: unbundled };
