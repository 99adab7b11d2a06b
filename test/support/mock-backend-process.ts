import type { SpawnedProcess } from '@api-router/testing';
import { spawnService, waitOrStop, type ServiceRuntime } from './planes.js';

export interface RunningMockBackend {
  /** The MOCK_ID, sent back as `x-mock-backend-id` and recorded by the router as the backend. */
  id: string;
  /** Origin without a path, e.g. http://127.0.0.1:41234 (the OpenAI API is under /v1). */
  url: string;
  process: SpawnedProcess;
}

/**
 * Starts services/mock-backend as its own process on a free port (MOCK_PORT=0 unless `env` says
 * otherwise) and resolves once it logs `listening`. `env` adds MOCK_* settings (MOCK_LATENCY_MS,
 * MOCK_RECORD_LIMIT …). Stop it with `process.stop()` in teardown.
 */
export async function startMockBackendProcess(
  id: string,
  env: Record<string, string> = {},
  runtime: ServiceRuntime = 'source',
): Promise<RunningMockBackend> {
  const process_ = await spawnService(
    'mock-backend',
    { ...process.env, LOG_LEVEL: 'info', MOCK_PORT: '0', MOCK_ID: id, ...env },
    runtime,
  );
  const line = await waitOrStop(process_, (_, json) => json?.msg === 'listening');
  return { id, url: String((JSON.parse(line) as { url: unknown }).url), process: process_ };
}

/** The requests a mock backend recorded (GET /control/requests), oldest first. */
export async function recordedRequests(
  backend: RunningMockBackend,
): Promise<{ url: string; headers: Record<string, string>; body: unknown }[]> {
  const response = await fetch(`${backend.url}/control/requests`);
  return ((await response.json()) as { requests: never[] }).requests;
}

/** Clears a mock backend's request record (DELETE /control/requests). */
export async function clearRecordedRequests(backend: RunningMockBackend): Promise<void> {
  await fetch(`${backend.url}/control/requests`, { method: 'DELETE' });
}
