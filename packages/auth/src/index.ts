export {
  API_KEY_PUBLIC_ID_PATTERN,
  MAX_API_KEY_LENGTH,
  generateApiKey,
  hashApiKey,
  parseApiKey,
  verifyApiKey,
  type GeneratedApiKey,
} from './api-key.js';
export {
  MAX_CONTENT_DIGEST_LENGTH,
  checkContentDigest,
  computeContentDigest,
  parseContentDigest,
  type ContentDigestAlgorithm,
  type ContentDigestCheck,
} from './content-digest.js';
export {
  DEFAULT_COVERED_COMPONENTS,
  MAX_COVERED_COMPONENTS,
} from './message-signature/covered-components.js';
export type { HeaderMap } from './message-signature/header-map.js';
export type { SignableRequest } from './message-signature/signable-request.js';
export { createSignatureBase, type SignatureBaseResult } from './message-signature/signature-base.js';
export {
  signRequest,
  type SignRequestOptions,
  type SignatureHeaders,
} from './message-signature/sign-request.js';
export {
  MAX_KEY_ID_LENGTH,
  MAX_NONCE_LENGTH,
  verifyRequest,
  type VerifyRequestOptions,
  type VerifyResult,
} from './message-signature/verify-request.js';
export {
  VERIFY_FAILURE_REASONS,
  type VerifyFailureReason,
} from './message-signature/verify-failure-reason.js';
export {
  createSigner,
  type OutgoingRequest,
  type RequestSigner,
  type SignerOptions,
} from './create-signer.js';
export type { NonceStore } from './nonce-store/nonce-store.js';
export { createMemoryNonceStore, type MemoryNonceStoreOptions } from './nonce-store/memory-nonce-store.js';
export { createRedisNonceStore, type RedisNonceStoreOptions } from './nonce-store/redis-nonce-store.js';
