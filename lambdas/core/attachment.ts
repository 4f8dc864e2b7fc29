/**
 * The Content-Disposition of a downloaded artifact (the API's and the presigned URL's):
 * `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): the quoted name keeps only printable
 * ASCII without quotes or backslashes; the extended one carries the exact name.
 */
export function attachment(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const extended = encodeURIComponent(fileName).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${extended}`;
}
