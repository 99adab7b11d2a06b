// In-memory app for inject() tests: recorded fake sleep, scripted random source, fixed clock.
import type { FastifyInstance } from 'fastify';
import { createLogger } from '@api-router/observability';
import { buildMockBackendApp } from './app.js';
import { resolveConfig, type MockBackendOptions } from './config.js';
import { createMockBackendState } from './mock-backend-state.js';
import { createRequestRecorder } from './request-recorder.js';

/** The fixed clock of test apps, ms since the epoch. */
export const TEST_NOW_MS = 1_700_000_000_500;

export interface TestApp extends AsyncDisposable {
  app: FastifyInstance;
  /** Delays the app asked for, in order. */
  sleeps: number[];
}

/** Builds an app with id "backend-a"; error-rate draws come from `draws`, then 0.999 (never fails). */
export function buildTestApp(options: MockBackendOptions = {}, draws: number[] = []): TestApp {
  const config = resolveConfig({ id: 'backend-a', ...options });
  const sleeps: number[] = [];
  const app = buildMockBackendApp({
    id: config.id,
    models: config.models,
    state: createMockBackendState({ healthy: config.healthy, faults: config.faults }),
    recorder: createRequestRecorder(config.recordLimit),
    logger: createLogger({ service: 'mock-backend-test', level: 'silent' }),
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    random: () => draws.shift() ?? 0.999,
    nowMs: () => TEST_NOW_MS,
  });
  return { app, sleeps, [Symbol.asyncDispose]: () => app.close() };
}
