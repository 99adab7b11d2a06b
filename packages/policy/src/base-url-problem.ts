/**
 * Returns why `text` is not an acceptable backend base URL, or undefined if it is: absolute http(s), no
 * credentials (they belong in credentialRef), no query or fragment, no trailing slash (paths are appended),
 * a port other than 0, and written as it is used: the data plane dials the parsed URL's origin and requests
 * its pathname, so a host or path the URL parser rewrites (a non-ASCII lookalike letter turned into an xn--
 * name, "0x7f.1" read as 127.0.0.1, "/v1/../admin" read as "/admin", a backslash read as a slash) would send
 * traffic, and the backend's credential, somewhere else than the config says.
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
  if (/[^\x20-\x7e]/.test(text)) {
    return (
      `must be printable ASCII (it is read as "${url.href}"): non-ASCII letters can look like others; write a host ` +
      'name in its xn-- form'
    );
  }
  if (url.port === '0') return 'must not use port 0';
  return describeRewrite(text, url);
}

/** The host or path of `text` that the URL parser reads as something else, if any. */
function describeRewrite(text: string, url: URL): string | undefined {
  // Checked above: "http(s)://", then an authority without credentials, then a path without query or fragment.
  const [, authority = '', path = ''] = /^https?:\/\/([^/]*)(.*)$/i.exec(text) ?? [];
  // The port is left out: a default port (":80", ":0443", ":") is dropped by the parser and means the same.
  const host = authority.replace(/:\d*$/, '');
  if (host.toLowerCase() !== url.hostname)
    return `host "${host}" is read as "${url.hostname}": write "${url.hostname}"`;
  const writtenPath = path === '' ? '/' : path;
  if (writtenPath !== url.pathname)
    return `path "${path}" is read as "${url.pathname}": write "${url.pathname}"`;
  return undefined;
}
