import { createLogger, createTracing } from '@api-router/observability';
import { loadConfig, type ControlPlaneConfig } from './config.js';
import { startControlPlane } from './service.js';

// The process entry point: the only place that touches signals and process.exit.
const bootLogger = createLogger({ service: 'control-plane' });
let config: ControlPlaneConfig;
try {
  config = loadConfig();
} catch (error: unknown) {
  // loadConfig throws only for invalid variables, each named with what it allows: the operator's to fix,
  // not a bug, so one line with that message and no stack (an uncaught throw would print Node's trace).
  const reason = error instanceof Error ? error.message : String(error);
  bootLogger.fatal(`control plane failed to start: ${reason}`);
  process.exit(1);
}
const logger = createLogger({ service: 'control-plane', level: config.logLevel });
const tracing = createTracing({ serviceName: 'control-plane', otlpEndpoint: config.otlpTracesEndpoint });

try {
  const controlPlane = await startControlPlane(config, { logger });
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal; exiting at once');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'signal received');
    controlPlane[Symbol.asyncDispose]()
      .then(() => tracing[Symbol.asyncDispose]())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} catch (error: unknown) {
  logger.fatal({ err: error }, 'control plane failed to start');
  await tracing[Symbol.asyncDispose]();
  process.exit(1);
}
