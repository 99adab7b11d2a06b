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
