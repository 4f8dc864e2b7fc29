/**
 * The query parameters a SigV4 presigned URL carries for its signature (the rest of its query is
 * the request's own). Read by the artifact store, which signs upload slots from one template
 * (artifacts.ts uploadUrls), and by local IAM, which verifies presigned URLs (lib/local/iam/sigv4.ts).
 */
export const PRESIGNED_QUERY_PARAMS: ReadonlySet<string> = new Set([
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
  'X-Amz-Security-Token',
]);
