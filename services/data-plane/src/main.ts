import { createLogger } from '@api-router/observability';
import { loadDataPlaneConfig, type DataPlaneConfig } from './config.js';
import { startDataPlane, type DataPlane } from './service.js';

// The process entry point: the only place that touches signals and process.exit.
const bootLogger = createLogger({ service: 'data-plane' });

async function main(): Promise<void> {
  let config: DataPlaneConfig;
  try {
    config = loadDataPlaneConfig();
  } catch (error: unknown) {
    // loadDataPlaneConfig throws only for an invalid variable, named with what it allows: the operator's to
    // fix, not a bug, so one line with that message and no stack.
    const reason = error instanceof Error ? error.message : String(error);
    bootLogger.fatal(`data plane failed to start: ${reason}`);
    process.exit(1);
  }
  const logger = createLogger({ service: 'data-plane', level: config.logLevel });
  process.on('unhandledRejection', (reason: unknown) => {
    logger.fatal({ err: reason }, 'unhandled promise rejection');
    process.exit(1);
  });

  const dataPlane: DataPlane = await startDataPlane(config, { logger });

  // One shutdown for SIGTERM and SIGINT together (an orchestrator's SIGTERM then a Ctrl-C ran it twice);
  // a second signal of either kind ends a shutdown that hangs, at once, as in the control plane.
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal; exiting at once');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    dataPlane[Symbol.asyncDispose]().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  bootLogger.fatal({ err: error }, 'data plane failed to start');
  process.exit(1);
});
