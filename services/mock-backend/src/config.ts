/**
 * Configuration of one mock backend instance. This is the only module of the service that reads
 * `process.env`; everything else receives a {@link MockBackendConfig}.
 */

/** Instance-wide fault injection defaults. Every field can be overridden per request by a header. */
export interface FaultSettings {
  /** Delay before the response status line and headers are sent, in ms. Default 0. */
  latencyMs: number;
  /** Delay after the headers and before the first body byte, in ms. Default 0. */
  firstByteDelayMs: number;
  /** Delay between body pieces (stream: before every content chunk after the first), in ms. Default 0. */
  chunkDelayMs: number;
  /** Probability in [0, 1] that a /v1 request fails with a 500. Default 0. */
  errorRate: number;
  /** Tokens the "model" wants to generate before stopping on its own. Default 16. */
  outputTokens: number;
}

export interface MockBackendConfig {
  /** TCP port; 0 (default) picks a free one. */
  port: number;
  /** Interface to bind; default 127.0.0.1. */
  host: string;
  /** Instance identity sent in every response as `x-mock-backend-id`; default "mock-backend". */
  id: string;
  /** Model ids listed by `GET /v1/models`; default ["mock-model"]. Requests for other models are served too. */
  models: string[];
  /** Initial health reported by `GET /health`; default true. */
  healthy: boolean;
  /** How many recent requests `GET /control/requests` keeps; 0 disables recording. Default 100. */
  recordLimit: number;
  /** pino level of the service logger; default "info" (nothing is logged per request below "warn"). */
  logLevel: string;
  faults: FaultSettings;
}

/** Partial configuration accepted by `startMockBackend`; missing fields take the defaults. */
export type MockBackendOptions = Partial<Omit<MockBackendConfig, 'faults'>> & {
  faults?: Partial<FaultSettings>;
};

export const DEFAULT_FAULT_SETTINGS: Readonly<FaultSettings> = Object.freeze({
  latencyMs: 0,
  firstByteDelayMs: 0,
  chunkDelayMs: 0,
  errorRate: 0,
  outputTokens: 16,
});

export const DEFAULT_CONFIG: Readonly<Omit<MockBackendConfig, 'faults' | 'models'>> = Object.freeze({
  port: 0,
  host: '127.0.0.1',
  id: 'mock-backend',
  healthy: true,
  recordLimit: 100,
  logLevel: 'info',
});

/** Fills the defaults into partial options (used by tests that start an instance in-process). */
export function resolveConfig(options: MockBackendOptions = {}): MockBackendConfig {
  return {
    ...DEFAULT_CONFIG,
    models: ['mock-model'],
    ...options,
    faults: { ...DEFAULT_FAULT_SETTINGS, ...options.faults },
  };
}

/**
 * Reads the configuration from environment variables (see README for the list).
 * Throws an Error naming the variable when a value is malformed, so start-up fails loudly.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): MockBackendConfig {
  const models = env.MOCK_MODELS?.split(',')
    .map((model) => model.trim())
    .filter((model) => model !== '');
  return resolveConfig({
    port: readInteger(env, 'MOCK_PORT', DEFAULT_CONFIG.port, 0, 65_535),
    host: env.MOCK_HOST ?? DEFAULT_CONFIG.host,
    id: env.MOCK_ID ?? DEFAULT_CONFIG.id,
    ...(models !== undefined && models.length > 0 ? { models } : {}),
    healthy: readBoolean(env, 'MOCK_HEALTHY', DEFAULT_CONFIG.healthy),
    recordLimit: readInteger(env, 'MOCK_RECORD_LIMIT', DEFAULT_CONFIG.recordLimit, 0, 100_000),
    logLevel: env.LOG_LEVEL ?? DEFAULT_CONFIG.logLevel,
    faults: {
      latencyMs: readInteger(env, 'MOCK_LATENCY_MS', DEFAULT_FAULT_SETTINGS.latencyMs, 0),
      firstByteDelayMs: readInteger(
        env,
        'MOCK_FIRST_BYTE_DELAY_MS',
        DEFAULT_FAULT_SETTINGS.firstByteDelayMs,
        0,
      ),
      chunkDelayMs: readInteger(env, 'MOCK_CHUNK_DELAY_MS', DEFAULT_FAULT_SETTINGS.chunkDelayMs, 0),
      errorRate: readRate(env, 'MOCK_ERROR_RATE', DEFAULT_FAULT_SETTINGS.errorRate),
      outputTokens: readInteger(env, 'MOCK_OUTPUT_TOKENS', DEFAULT_FAULT_SETTINGS.outputTokens, 0),
    },
  });
}

function readInteger(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  }
  return value;
}

function readRate(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value > 1) {
    throw new Error(`${name} must be a number in [0, 1], got "${raw}"`);
  }
  return value;
}

function readBoolean(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new Error(`${name} must be true or false, got "${raw}"`);
}
