import { pickServicesEnv, type ServicesEnv } from './local-services/services-env.js';

/**
 * The package's one reader of process.env: the backing services given to the integration tests, if any.
 * `{ env }` when REDIS_URL, DATABASE_URL, ETCD_ENDPOINTS and KAFKA_BROKERS are all set; otherwise
 * `{ missing }` lists the unset ones (all four when none is set).
 */
export function readServicesEnvFromProcess():
  { env: ServicesEnv; missing?: undefined } | { env?: undefined; missing: string[] } {
  return pickServicesEnv(process.env);
}
