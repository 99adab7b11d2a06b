/**
 * What a signature must cover under our policy (DESIGN.md): the method, path, query and the body through
 * its Content-Digest. The signer covers these by default and the verifier requires them by default.
 */
export const DEFAULT_COVERED_COMPONENTS: readonly string[] = Object.freeze([
  '@method',
  '@path',
  '@query',
  'content-digest',
]);

/**
 * Most components one signature may cover (RFC 9421 sets no limit). Each covered field is looked up among all
 * of the request's header lines before any key is known, so an unsigned request covering a thousand fields
 * of a thousand-line header block cost ~140 ms of CPU; a longer list is refused as `malformed`.
 */
export const MAX_COVERED_COMPONENTS = 32;
