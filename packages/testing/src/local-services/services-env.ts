/** How code under test finds the backing services; the names are the environment variables'. */
export interface ServicesEnv {
  /** redis://127.0.0.1:P */
  REDIS_URL: string;
  /** postgres://postgres@127.0.0.1:P/postgres */
  DATABASE_URL: string;
  /** Comma-separated etcd client URLs, http://127.0.0.1:P */
  ETCD_ENDPOINTS: string;
  /** Comma-separated Kafka bootstrap brokers, 127.0.0.1:P */
  KAFKA_BROKERS: string;
}

export const SERVICES_ENV_KEYS = ['REDIS_URL', 'DATABASE_URL', 'ETCD_ENDPOINTS', 'KAFKA_BROKERS'] as const;

/** Renders `KEY=value` lines that bash can `source` (values never contain quotes or spaces). */
export function formatServicesEnv(env: ServicesEnv): string {
  return `${SERVICES_ENV_KEYS.map((key) => `${key}=${env[key]}`).join('\n')}\n`;
}

/**
 * Picks the four variables out of an environment. Returns `{ env }` when all are set, `{ missing }`
 * naming the absent ones otherwise (`missing` has all four when none is set).
 */
export function pickServicesEnv(
  source: Readonly<Record<string, string | undefined>>,
): { env: ServicesEnv; missing?: undefined } | { env?: undefined; missing: string[] } {
  const missing = SERVICES_ENV_KEYS.filter((key) => (source[key] ?? '').trim() === '');
  if (missing.length > 0) return { missing };
  const value = (key: (typeof SERVICES_ENV_KEYS)[number]): string => (source[key] ?? '').trim();
  return {
    env: {
      REDIS_URL: value('REDIS_URL'),
      DATABASE_URL: value('DATABASE_URL'),
      ETCD_ENDPOINTS: value('ETCD_ENDPOINTS'),
      KAFKA_BROKERS: value('KAFKA_BROKERS'),
    },
  };
}

/** Parses the `KEY=value` lines written by {@link formatServicesEnv}; blank lines and `#` comments are ignored. */
export function parseEnvLines(text: string): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    const equals = trimmed.indexOf('=');
    if (trimmed === '' || trimmed.startsWith('#') || equals <= 0) continue;
    entries[trimmed.slice(0, equals)] = trimmed.slice(equals + 1);
  }
  return entries;
}
