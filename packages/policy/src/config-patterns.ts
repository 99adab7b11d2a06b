// Formats of names used across the config documents.

/** Ids of backends, routes, tenants, budgets and admin tokens. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** Public id of an API key; the full key string is "<publicId>.<secret>". */
export const API_KEY_PUBLIC_ID_PATTERN = /^rk_[a-z0-9]{4,32}$/;
// Model names are opaque to the router, but must be usable in headers, logs and metric labels; "*" is
// reserved as the wildcard of allowedModels.
export const MODEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/;
