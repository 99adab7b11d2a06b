import { Redis } from 'ioredis';
import { createRedisLimitStore } from '@api-router/limits';
import type { Logger } from 'pino';
import type { BudgetStore } from './budget-change-flow.js';
import { DEFAULT_BUDGET_CHANGE_SETTINGS, type BudgetChangeSettings } from './budget-change-settings.js';

export interface BudgetStoreSettings {
  /** CP_REDIS_URL: the Redis the data planes share (their DP_REDIS_URL); undefined = embedded mode. */
  redisUrl: string | undefined;
  /** Key prefix of the limit store; must equal the data planes' (default DEFAULT_LIMITS_KEY_PREFIX). */
  limitsKeyPrefix: string;
  /** Deadline of one Redis call, ms. */
  commandTimeoutMs: number;
  /** Change id retention and reconciler pace; unset fields take DEFAULT_BUDGET_CHANGE_SETTINGS. */
  changes?: Partial<BudgetChangeSettings>;
}

/** The shared limit store for budget administration, and the closing of its Redis client. */
export interface OpenBudgetStore {
  /** undefined in embedded mode (no CP_REDIS_URL): budget calls answer FAILED_PRECONDITION. */
  store: BudgetStore | undefined;
  /** The settings in force (defaults filled in). */
  changeSettings: BudgetChangeSettings;
  close(): Promise<void>;
}

/**
 * Connects (lazily: ioredis connects in the background and reconnects by itself) to the data planes'
 * Redis. An unreachable Redis is never a start failure: budget calls answer UNAVAILABLE until it is back.
 */
export function openBudgetStore(settings: BudgetStoreSettings | undefined, logger: Logger): OpenBudgetStore {
  const changeSettings = { ...DEFAULT_BUDGET_CHANGE_SETTINGS, ...settings?.changes };
  if (settings?.redisUrl === undefined) {
    return { store: undefined, changeSettings, close: () => Promise.resolve() };
  }
  const redis = new Redis(settings.redisUrl, {
    maxRetriesPerRequest: 1,
    commandTimeout: settings.commandTimeoutMs,
  });
  // Without a listener an 'error' event would crash the process; ioredis reconnects by itself.
  redis.on('error', (error: unknown) => logger.warn({ err: error }, 'limits redis error'));
  const store = createRedisLimitStore({
    redis,
    keyPrefix: settings.limitsKeyPrefix,
    commandTimeoutMs: settings.commandTimeoutMs,
    budgetChangeRetentionMs: changeSettings.changeRetentionMs,
  });
  return {
    store,
    changeSettings,
    async close() {
      try {
        await redis.quit();
      } catch (error: unknown) {
        // Already disconnected: nothing to flush, drop the connection.
        logger.warn({ err: error }, 'limits redis quit failed');
        redis.disconnect();
      }
    },
  };
}
