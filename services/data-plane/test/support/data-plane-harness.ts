import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_POLICY_SYNC_SETTINGS,
  loadDataPlaneConfig,
  startDataPlane,
  type DataPlane,
  type DataPlaneConfig,
} from '../../src/index.js';
import type { ReadinessDetail } from '../../src/http/readiness.js';
import { captureLogs, type CapturedLogs } from './captured-logs.js';

/** A data plane started in-process on 127.0.0.1:0 with fast reconnects, plus probes for tests. */
export interface RunningDataPlane {
  readonly dataPlane: DataPlane;
  readonly logs: CapturedLogs;
  readiness(): Promise<{ status: number; detail: ReadinessDetail }>;
  metricsText(): Promise<string>;
  stop(): Promise<void>;
}

export interface DataPlaneOptions {
  controlPlaneAddress: string;
  cacheDir: string;
  environment?: Record<string, string>;
}

export function testDataPlaneConfig(options: DataPlaneOptions): DataPlaneConfig {
  const base = loadDataPlaneConfig({});
  return {
    ...base,
    host: '127.0.0.1',
    port: 0,
    controlPlaneAddress: options.controlPlaneAddress,
    cacheDir: options.cacheDir,
    dataPlaneId: 'dp-test',
    drainDelayMs: 0,
    policySync: {
      ...DEFAULT_POLICY_SYNC_SETTINGS,
      initialBackoffMs: 50,
      maxBackoffMs: 250,
      reportTimeoutMs: 2000,
    },
    environment: new Map(Object.entries(options.environment ?? {})),
  };
}

export async function runDataPlane(options: DataPlaneOptions): Promise<RunningDataPlane> {
  const logs = captureLogs('info');
  const dataPlane = await startDataPlane(testDataPlaneConfig(options), { logger: logs.logger });
  let stopped = false;
  return {
    dataPlane,
    logs,
    async readiness() {
      const response = await fetch(`${dataPlane.url}/readyz`);
      return { status: response.status, detail: (await response.json()) as ReadinessDetail };
    },
    async metricsText() {
      return (await fetch(`${dataPlane.url}/metrics`)).text();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await dataPlane[Symbol.asyncDispose]();
    },
  };
}

/** A fresh temporary directory and its removal. */
export async function createTempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/**
 * Value of the series `name` whose labels include `labels`, from Prometheus text (what GET /metrics serves),
 * e.g. metricValue(text, 'router_policy_updates_total', { outcome: 'rejected' }).
 */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const seriesLabels = new Map<string, string>();
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      seriesLabels.set(pair[1]!, pair[2]!);
    }
    if (Object.entries(labels).every(([key, value]) => seriesLabels.get(key) === value))
      return Number(match[3]);
  }
  return undefined;
}
