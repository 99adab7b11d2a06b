import { inject } from 'vitest';
import type { ServicesEnv } from './local-services/services-env.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Backing services of the integration project, provided by packages/testing/src/global-setup.ts. */
    services: ServicesEnv;
  }
}

/**
 * URLs of the real Redis, Postgres, etcd and Kafka for an integration test (vitest project
 * "integration"). Throws outside that project, where no global setup provided them.
 */
export function testServices(): ServicesEnv {
  const services = inject('services');
  if (services === undefined) {
    throw new Error('testServices(): no services provided; run the test in the vitest project "integration"');
  }
  return services;
}
