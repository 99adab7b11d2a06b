import { createLogger, type Logger } from '@api-router/observability';
import { loadConfig, type MockBackendConfig } from './config.js';
import { startMockBackend } from './service.js';

// The only module that touches process signals and exit codes.
const SERVICE = 'mock-backend';

function fail(logger: Logger, error: unknown, message: string): never {
  logger.fatal({ err: error }, message);
  process.exit(1);
}

let config: MockBackendConfig;
try {
  config = loadConfig();
} catch (error: unknown) {
  fail(createLogger({ service: SERVICE }), error, 'invalid configuration');
}
const logger = createLogger({ service: SERVICE, level: config.logLevel });
try {
  const backend = await startMockBackend(config, { logger });
  const stop = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'stopping');
    backend.close().then(
      () => process.exit(0),
      (error: unknown) => fail(logger, error, 'close failed'),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (error: unknown) {
  fail(logger, error, 'start failed');
}
