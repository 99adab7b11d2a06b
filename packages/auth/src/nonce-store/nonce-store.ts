/**
 * Remembers signature nonces so that each is accepted once per key (replay protection).
 */
export interface NonceStore {
  /**
   * Records `nonce` for `keyId` for `ttlSeconds` (a positive integer). Resolves true the first time a
   * (keyId, nonce) pair is claimed within its lifetime, false on every later claim. Rejects when the
   * store cannot answer (e.g. Redis is unreachable); callers must then refuse the request, never accept it.
   */
  claim(keyId: string, nonce: string, ttlSeconds: number): Promise<boolean>;
}
