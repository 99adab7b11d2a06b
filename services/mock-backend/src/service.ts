import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '@api-router/observability';
import { buildMockBackendApp } from './app.js';
import { resolveConfig, type FaultSettings, type MockBackendOptions } from './config.js';
import { createMockBackendState } from './mock-backend-state.js';
import { createRequestRecorder, type RecordedRequest } from './request-recorder.js';
import { realSleep, type Sleep } from './sleep.js';

/** A running mock backend. Dispose it (or call close) to stop listening; open streams are cut. */
export interface MockBackend extends AsyncDisposable {
  /** Base URL, e.g. "http://127.0.0.1:40123" (no trailing slash). */
  url: string;
  /** The instance id sent as `x-mock-backend-id`. */
  id: string;
  /** In-process equivalent of `POST /control/health`. */
  setHealthy(healthy: boolean): void;
  /** In-process equivalent of `PUT /control/faults`; returns the resulting settings. */
  setFaults(patch: Partial<FaultSettings>): Readonly<FaultSettings>;
  /** In-process equivalent of `GET /control/requests`. */
  requests(): RecordedRequest[];
  /** In-process equivalent of `DELETE /control/requests`. */
  clearRequests(): void;
  /** Stops the server; idempotent. */
  close(): Promise<void>;
}

/** Replaceable dependencies, for deterministic tests. */
export interface MockBackendDeps {
  logger?: Logger;
  /** Uniform random in [0, 1) for error-rate decisions; default Math.random. */
  random?: () => number;
  sleep?: Sleep;
  /** ms since the epoch; default Date.now. */
  nowMs?: () => number;
}

/**
 * Composition root: builds state, recorder and app, listens on `config.host:config.port` (port 0 = free port)
 * and logs `{"msg":"listening","url":…}`. Rejects if the port cannot be bound.
 */
export async function startMockBackend(
  options: MockBackendOptions = {},
  deps: MockBackendDeps = {},
): Promise<MockBackend> {
  const config = resolveConfig(options);
  const logger = deps.logger ?? createLogger({ service: 'mock-backend', level: config.logLevel });
  const state = createMockBackendState({ healthy: config.healthy, faults: config.faults });
  const recorder = createRequestRecorder(config.recordLimit);
  const app = buildMockBackendApp({
    id: config.id,
    models: config.models,
    state,
    recorder,
    logger,
    sleep: deps.sleep ?? realSleep,
    random: deps.random ?? Math.random,
    nowMs: deps.nowMs ?? Date.now,
  });
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  logger.info({ url, id: config.id, models: config.models }, 'listening');

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    closing ??= app.close().then(() => logger.info({ url, id: config.id }, 'closed'));
    await closing;
  };
  return {
    url,
    id: config.id,
    setHealthy: (healthy) => state.setHealthy(healthy),
    setFaults: (patch) => state.updateFaults(patch),
    requests: () => recorder.list(),
    clearRequests: () => recorder.clear(),
    close,
    [Symbol.asyncDispose]: close,
  };
}
