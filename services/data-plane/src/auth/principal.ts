/** Who is calling: the API key (by its public id) and what it may do. Never holds a secret. */
export interface Principal {
  /** The key's public id, e.g. "rk_demo01" (the RFC 9421 keyid for signed requests). */
  readonly keyId: string;
  readonly tenantId: string;
  /** Public model names the key may call; "*" allows every model. */
  readonly allowedModels: readonly string[];
  /** How the request proved it holds the key. */
  readonly scheme: 'api_key' | 'signature';
}

/** True when the principal's key may call `model`. */
export function mayUseModel(principal: Principal, model: string): boolean {
  return principal.allowedModels.includes('*') || principal.allowedModels.includes(model);
}
