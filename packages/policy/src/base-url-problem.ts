/**
 * Returns why `text` is not an acceptable backend base URL, or undefined if it is: absolute http(s), no
 * credentials (they belong in credentialRef), no query or fragment, no trailing slash (paths are appended).
 */
export function describeBaseUrlProblem(text: string): string | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch (error: unknown) {
    // The parse error itself says nothing more useful than "invalid URL".
    void error;
    return 'must be an absolute http(s) URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http or https';
  // The URL parser forgives things ("http:/host", surrounding spaces) that other HTTP clients may not.
  if (/\s/.test(text) || !/^https?:\/\/[^/]/i.test(text)) return 'must be an absolute http(s) URL';
  if (url.username !== '' || url.password !== '') return 'must not contain credentials (use credentialRef)';
  if (url.search !== '' || text.includes('?')) return 'must not have a query';
  if (url.hash !== '' || text.includes('#')) return 'must not have a fragment';
  if (text.endsWith('/')) return 'must not end with a slash';
  return undefined;
}
