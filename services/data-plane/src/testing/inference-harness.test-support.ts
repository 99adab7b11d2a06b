// A real data plane in-process (HTTP on 127.0.0.1:0), fed one policy by a fake policy sync transport, in
// front of in-process mock backends. Excluded from the build.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { create, fromBinary } from '@bufbuild/protobuf';
import {
  UsageRecordSchema,
  WatchPolicyResponseSchema,
  type PolicySnapshot,
  type UsageRecord,
} from '@api-router/contracts';
import { startMockBackend, type MockBackend } from '@api-router/mock-backend';
import type { OutboxRecord, OutboxTransport } from '@api-router/outbox';
import { freePort, waitFor } from '@api-router/testing';
import { createLogger, type Logger } from '@api-router/observability';
import { loadDataPlaneConfig, type DataPlaneConfig } from '../config.js';
import type { PolicySyncTransport, WatchPolicyHandlers } from '../policy/policy-sync-transport.js';
import { startDataPlane, type DataPlane } from '../service.js';
import { buildTestSnapshot, testApiKey, type TestPolicyOptions } from './test-policy.test-support.js';

/** Plays the control plane: every watch gets the current snapshot; `publish` pushes a new one. */
export class StaticPolicyTransport implements PolicySyncTransport {
  readonly #watchers = new Set<WatchPolicyHandlers>();
  #snapshot: PolicySnapshot;

  constructor(snapshot: PolicySnapshot) {
    this.#snapshot = snapshot;
  }

  watchPolicy(_request: unknown, handlers: WatchPolicyHandlers) {
    this.#watchers.add(handlers);
    setImmediate(() => {
      handlers.onHeaders();
      handlers.onMessage(create(WatchPolicyResponseSchema, { snapshot: this.#snapshot }));
    });
    return { cancel: () => this.#watchers.delete(handlers) };
  }

  publish(snapshot: PolicySnapshot): void {
    this.#snapshot = snapshot;
    for (const handlers of this.#watchers) {
      handlers.onMessage(create(WatchPolicyResponseSchema, { snapshot }));
    }
  }

  reportPolicyStatus(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    this.#watchers.clear();
  }
}

/** Log lines written by the data plane's real (redacting) logger, as raw text. */
export function captureLogText(): { logger: Logger; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  return {
    logger: createLogger({ service: 'data-plane', level: 'debug', destination }),
    text: () => chunks.join(''),
  };
}

export interface InferenceHarness {
  readonly url: string;
  readonly dataPlane: DataPlane;
  readonly backends: Record<'mock-a' | 'mock-b', MockBackend>;
  readonly transport: StaticPolicyTransport;
  readonly cacheDir: string;
  readonly logs: () => string;
  /** The data plane's log lines so far (parsed) that carry this request id. */
  logLinesOf(requestId: string): Record<string, unknown>[];
  /** Records the data plane's outbox shipped (the harness's record transport keeps them in memory). */
  readonly shippedRecords: readonly OutboxRecord[];
  metricsText(): Promise<string>;
  close(): Promise<void>;
}

export interface HarnessOptions extends Omit<TestPolicyOptions, 'backendUrls'> {
  /** Environment the data plane resolves credential references from (MOCK_A_KEY is always set). */
  environment?: Record<string, string>;
  config?: Partial<DataPlaneConfig>;
  /** Base URL override per backend id, e.g. an unreachable one. */
  backendUrls?: Partial<Record<'mock-a' | 'mock-b', string>>;
  /** Builds the policy instead of the test policy, given the mock backends' base URLs (…/v1). */
  buildSnapshot?: (urls: Record<'mock-a' | 'mock-b', string>) => PolicySnapshot;
  /**
   * Where the record outbox ships; default: kept in memory (`shippedRecords`). 'configured': the data
   * plane's own choice from `config.records` (Kafka, or the control plane).
   */
  recordTransport?: OutboxTransport | 'configured';
}

/** The backend credential the harness gives mock-a (env:MOCK_A_KEY). */
export const MOCK_A_TOKEN = 'backend-token-of-mock-a';

export async function startInferenceHarness(options: HarnessOptions = {}): Promise<InferenceHarness> {
  const backendA = await startMockBackend({ id: 'mock-a', logLevel: 'silent' });
  const backendB = await startMockBackend({ id: 'mock-b', logLevel: 'silent' });
  const cacheDir = await mkdtemp(join(tmpdir(), 'dp-inference-'));
  const backendUrls = {
    'mock-a': options.backendUrls?.['mock-a'] ?? `${backendA.url}/v1`,
    'mock-b': options.backendUrls?.['mock-b'] ?? `${backendB.url}/v1`,
  };
  const snapshot =
    options.buildSnapshot?.(backendUrls) ??
    buildTestSnapshot({ deadBackendUrl: `http://127.0.0.1:${await freePort()}/v1`, ...options, backendUrls });
  const transport = new StaticPolicyTransport(snapshot);
  const logs = captureLogText();
  const config: DataPlaneConfig = {
    ...loadDataPlaneConfig({}),
    port: 0,
    cacheDir,
    drainDelayMs: 0,
    environment: new Map(Object.entries({ MOCK_A_KEY: MOCK_A_TOKEN, ...options.environment })),
    ...options.config,
  };
  const shippedRecords: OutboxRecord[] = [];
  const recordTransport = options.recordTransport ?? {
    send: (records: readonly OutboxRecord[]) => {
      shippedRecords.push(...records);
      return Promise.resolve();
    },
  };
  const dataPlane = await startDataPlane(config, {
    logger: logs.logger,
    transport,
    ...(recordTransport === 'configured' ? {} : { recordTransport }),
  });
  await waitUntilReady(dataPlane.url);
  return {
    url: dataPlane.url,
    dataPlane,
    backends: { 'mock-a': backendA, 'mock-b': backendB },
    transport,
    cacheDir,
    logs: logs.text,
    logLinesOf: (requestId) =>
      logs
        .text()
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line.request_id === requestId),
    shippedRecords,
    metricsText: async () => (await fetch(`${dataPlane.url}/metrics`)).text(),
    async close() {
      await dataPlane[Symbol.asyncDispose]();
      await backendA.close();
      await backendB.close();
      await rm(cacheDir, { recursive: true, force: true });
    },
  };
}

async function waitUntilReady(url: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    if ((await fetch(`${url}/readyz`)).status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('data plane did not become ready');
}

/** Data of each SSE event of a response body, and its comments (lines starting with ':'). */
export function parseSse(text: string): { data: string[]; comments: string[] } {
  const data: string[] = [];
  const comments: string[] = [];
  for (const block of text.split('\n\n')) {
    for (const line of block.split('\n')) {
      if (line.startsWith('data: ')) data.push(line.slice('data: '.length));
      else if (line.startsWith(':')) comments.push(line);
    }
  }
  return { data, comments };
}

/** POSTs `body` as JSON to `url` with the API key of test key `keyId`, and `headers` besides. */
export function postAsKey(
  url: string,
  keyId: string,
  body: Record<string, unknown>,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${testApiKey(keyId)}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

/** The usage record the harness's outbox shipped for `requestId`, once it has. */
export function shippedUsageRecord(harness: InferenceHarness, requestId: string): Promise<UsageRecord> {
  return waitFor(`the usage record of ${requestId}`, () =>
    Promise.resolve(
      harness.shippedRecords
        .filter((shipped) => shipped.topic === 'usage' && shipped.key === requestId)
        .map((shipped) => fromBinary(UsageRecordSchema, shipped.payload))[0],
    ),
  );
}

/**
 * A loopback backend that answers every request 200 with what `answer` gives for its `x-script` header (a
 * backend that behaves in one scripted way per test). `url` is its base URL (…/v1).
 */
export async function startScriptedBackend(
  answer: (script: string) => { type: string; body: string },
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const { type, body } = answer(String(request.headers['x-script']));
    request.resume();
    response.writeHead(200, { 'content-type': type });
    response.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
