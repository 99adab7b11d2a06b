// One file on purpose (~420 lines): every test drives the same app harness (createHarness) through the
// HTTP shell's one concern, what buildApp answers before and around the routes (health, readiness, ids,
// errors, limits); the route behaviour itself is tested beside each route.
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { RouterError } from '@api-router/errors';
import { createMetricsRegistry } from '@api-router/observability';
import { compileRuntimePolicy } from '@api-router/policy';
import { captureLogs } from '../../test/support/captured-logs.js';
import { ManualTime } from '../../test/support/manual-time.js';
import { createTestSnapshot } from '../../test/support/policy-snapshot-fixture.js';
import { DEFAULT_HTTP_SETTINGS } from '../config.js';
import { createPolicyMetrics } from '../metrics/policy-metrics.js';
import type { ActivePolicy } from '../policy/policy-holder.js';
import type { PolicySyncStatus } from '../policy/policy-sync-client.js';
import type { OutboxStatus } from '../records/record-shipping.js';
import { buildApp } from './app.js';
import { Readiness } from './readiness.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function createHarness() {
  const time = new ManualTime(1_700_000_100_000);
  const logs = captureLogs();
  const metricsRegistry = createMetricsRegistry({ processMetrics: false });
  createPolicyMetrics(metricsRegistry);
  let active: ActivePolicy | undefined;
  let controlPlane: PolicySyncStatus = {
    state: 'connecting',
    connected: false,
    lastSyncAtMs: undefined,
    startedAtMs: 0,
  };
  let outbox: OutboxStatus = {
    state: 'open',
    pending: 0,
    oldestAgeSeconds: 0,
    sendInFlightSeconds: 0,
    transport: 'control-plane',
  };
  const readiness = new Readiness({
    clock: time,
    activePolicy: () => active,
    controlPlane: () => controlPlane,
    outbox: () => outbox,
  });
  const app = buildApp({
    logger: logs.logger,
    clock: time,
    http: { ...DEFAULT_HTTP_SETTINGS, bodyLimitBytes: 1024 },
    metricsRegistry,
    readiness,
    activePolicy: () => active,
  });
  return {
    app,
    logs,
    readiness,
    time,
    activate(source: ActivePolicy['source'] = 'control-plane') {
      // created_at of the fixture is 1_700_000_000_000: 100 s before the harness clock.
      active = {
        policy: compileRuntimePolicy(createTestSnapshot({ version: 12n })),
        source,
        appliedAtMs: time.now(),
      };
    },
    setControlPlane(status: PolicySyncStatus) {
      controlPlane = status;
    },
    setOutbox(status: OutboxStatus) {
      outbox = status;
    },
  };
}

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

describe('health, readiness, metrics', () => {
  it('GET /healthz answers 200 with or without a policy', async () => {
    const harness = createHarness();
    app = harness.app;
    const response = await app.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz is 503 with detail until a policy is active, then 200', async () => {
    const harness = createHarness();
    app = harness.app;

    const before = await app.inject({ method: 'GET', url: '/readyz' });
    expect(before.statusCode).toBe(503);
    expect(before.json()).toEqual({
      ready: false,
      draining: false,
      policy: null,
      controlPlane: { state: 'connecting', connected: false, lastSyncAgeSeconds: null },
      outbox: {
        state: 'open',
        pending: 0,
        oldestAgeSeconds: 0,
        sendInFlightSeconds: 0,
        transport: 'control-plane',
      },
    });

    harness.activate();
    harness.setControlPlane({
      state: 'ready',
      connected: true,
      lastSyncAtMs: harness.time.now() - 3_500,
      startedAtMs: 0,
    });
    const after = await app.inject({ method: 'GET', url: '/readyz' });
    expect(after.statusCode).toBe(200);
    expect(after.json()).toMatchObject({
      ready: true,
      policy: { version: '12', ageSeconds: 100, source: 'control-plane' },
      controlPlane: { state: 'ready', connected: true, lastSyncAgeSeconds: 3 },
    });
    expect(after.json().policy.contentHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('stays ready on a cached policy while the control plane is away', async () => {
    const harness = createHarness();
    app = harness.app;
    harness.activate('cache');
    harness.setControlPlane({ state: 'backoff', connected: false, lastSyncAtMs: undefined, startedAtMs: 0 });
    const response = await app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      policy: { source: 'cache' },
      controlPlane: { state: 'backoff', connected: false },
    });
  });

  it('GET /readyz is 503 once draining, even with a policy', async () => {
    const harness = createHarness();
    app = harness.app;
    harness.activate();
    harness.readiness.beginDrain();
    const response = await app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ ready: false, draining: true, policy: { version: '12' } });
  });

  it('GET /readyz and /healthz are 503 once the outbox failed: nothing can be served until a restart', async () => {
    const harness = createHarness();
    app = harness.app;
    harness.activate();
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    harness.setOutbox({
      state: 'failed',
      pending: 3,
      oldestAgeSeconds: 1,
      sendInFlightSeconds: 0,
      transport: 'control-plane',
    });
    const ready = await app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ ready: false, outbox: { state: 'failed', pending: 3 } });
    const live = await app.inject({ method: 'GET', url: '/healthz' });
    expect(live.statusCode).toBe(503);
    expect(live.json()).toEqual({ status: 'failed', reason: 'outbox_failed' });
  });

  it('GET /metrics serves the registry in Prometheus text format', async () => {
    const harness = createHarness();
    app = harness.app;
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    expect(response.body).toContain('router_policy_updates_total{outcome="applied"} 0');
  });
});

describe('not ready', () => {
  it('answers every other route 503 not_ready while no policy is active, never "allow all"', async () => {
    const harness = createHarness();
    app = harness.app;
    app.post('/v1/chat/completions', () => ({ allowed: true }));

    for (const [method, url] of [
      ['POST', '/v1/chat/completions'],
      ['GET', '/v1/inference'],
      ['GET', '/nothing-here'],
    ] as const) {
      const response = await app.inject({
        method,
        url,
        headers: { 'x-request-id': 'req-1' },
        payload: method === 'POST' ? {} : undefined,
      });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toEqual({
        error: {
          code: 'not_ready',
          message: 'The router has no active policy yet.',
          request_id: 'req-1',
          retryable: true,
        },
      });
    }
  });

  it('lets routes through once a policy is active; unknown routes are then 404 not_found', async () => {
    const harness = createHarness();
    app = harness.app;
    app.get('/v1/models', () => ({ data: [] }));
    harness.activate();
    expect((await app.inject({ method: 'GET', url: '/v1/models' })).statusCode).toBe(200);
    const missing = await app.inject({ method: 'GET', url: '/nothing-here' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error).toMatchObject({ code: 'not_found', retryable: false });
  });

  it("answers an unknown path under /v1/ in OpenAI's error shape, except the router's own /v1/inference", async () => {
    const harness = createHarness();
    app = harness.app;
    harness.activate();
    const openAI = await app.inject({ method: 'POST', url: '/v1/embeddings', payload: {} });
    expect(openAI.statusCode).toBe(404);
    expect(openAI.json().error).toMatchObject({ code: 'not_found', type: 'not_found_error', param: null });
    const router = await app.inject({ method: 'GET', url: '/v1/inference' });
    expect(router.statusCode).toBe(404);
    expect(router.json().error).toMatchObject({ code: 'not_found', retryable: false });
    // The router's own path exactly (with any query string); a longer one is another path under /v1/.
    const withQuery = await app.inject({ method: 'GET', url: '/v1/inference?stream=1' });
    expect(withQuery.json().error).toMatchObject({ code: 'not_found', retryable: false });
    const other = await app.inject({ method: 'POST', url: '/v1/inferences', payload: {} });
    expect(other.json().error).toMatchObject({ code: 'not_found', type: 'not_found_error', param: null });
  });
});

describe('request id', () => {
  it('honours a valid incoming x-request-id and echoes it', async () => {
    app = createHarness().app;
    const response = await app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'abc.DEF_1:2-3' },
    });
    expect(response.headers['x-request-id']).toBe('abc.DEF_1:2-3');
  });

  it.each([
    ['with spaces', 'has spaces'],
    ['too long', 'a'.repeat(129)],
    ['with a newline-ish char', 'evil\u0007id'],
  ])('regenerates an invalid one (%s)', async (_label, incoming) => {
    app = createHarness().app;
    const response = await app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': incoming },
    });
    expect(response.headers['x-request-id']).toMatch(UUID_V7);
  });

  it('generates a UUIDv7 when none is sent, and puts it on request logs', async () => {
    const harness = createHarness();
    app = harness.app;
    app.get('/v1/models', () => ({ data: [] }));
    harness.activate();
    const response = await app.inject({ method: 'GET', url: '/v1/models' });
    const id = response.headers['x-request-id'];
    expect(id).toMatch(UUID_V7);
    expect(harness.logs.withMessage('request completed')[0]).toMatchObject({ request_id: id });
  });
});

describe('errors of the HTTP server itself, before any route', () => {
  /** Sends raw bytes to the listening app and reads its whole answer (the server closes the connection). */
  async function rawExchange(bytes: string): Promise<string> {
    const { port } = app!.server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.write(bytes);
    await new Promise<void>((done) => socket.on('close', () => done()).on('error', () => done()));
    return answer;
  }

  it.each([
    [
      'headers over the size limit',
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'request_header_too_large',
    ],
    ['bytes that are not HTTP', 'NOT HTTP AT ALL\r\n\r\n', 400, 'invalid_request'],
  ])('answers %s in the router error shape with a catalogue code', async (_name, bytes, status, code) => {
    app = createHarness().app;
    await app.listen({ port: 0, host: '127.0.0.1' });
    const [head, body] = (await rawExchange(bytes)).split('\r\n\r\n');
    expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(JSON.parse(body!)).toEqual({
      error: {
        code,
        message: expect.any(String),
        request_id: expect.stringMatching(UUID_V7),
        retryable: false,
      },
    });
  });
});

describe('error handler', () => {
  function appWithRoutes() {
    const harness = createHarness();
    harness.activate();
    const instance = harness.app;
    instance.get('/throws-router-error', () => {
      throw new RouterError('rate_limited', { retryAfterSeconds: 2.2, details: { limit: 'rpm' } });
    });
    instance.get('/throws-upstream-error', () => {
      throw new RouterError('upstream_error', { cause: new Error('backend body: engine overloaded') });
    });
    instance.get('/throws-anything', () => {
      throw new Error('database password is hunter2');
    });
    instance.post('/echo', (request) => ({ received: request.body }));
    return { harness, instance };
  }

  it('renders a RouterError with its status, Retry-After and details', async () => {
    const { instance } = appWithRoutes();
    app = instance;
    const response = await app.inject({
      method: 'GET',
      url: '/throws-router-error',
      headers: { 'x-request-id': 'r-9' },
    });
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBe('3');
    expect(response.headers['x-request-id']).toBe('r-9');
    expect(response.json()).toEqual({
      error: {
        code: 'rate_limited',
        message: 'Rate limit exceeded.',
        request_id: 'r-9',
        retryable: true,
        details: { limit: 'rpm' },
      },
    });
  });

  it('renders anything else as 500 internal without leaking its message, and logs the cause', async () => {
    const { instance, harness } = appWithRoutes();
    app = instance;
    const response = await app.inject({ method: 'GET', url: '/throws-anything' });
    expect(response.statusCode).toBe(500);
    expect(response.json().error).toMatchObject({
      code: 'internal',
      message: 'Internal error.',
      retryable: true,
    });
    expect(response.body).not.toContain('hunter2');
    expect(harness.logs.withMessage('request failed')).toHaveLength(1);
  });

  // An upstream failure's cause (an undici error, the start of a backend body) is what an operator needs;
  // the client gets only the catalogue message.
  it('logs the cause of a 5xx refusal with its warning, and never sends it', async () => {
    const { instance, harness } = appWithRoutes();
    app = instance;
    const response = await app.inject({ method: 'GET', url: '/throws-upstream-error' });
    expect(response.statusCode).toBe(502);
    expect(response.body).not.toContain('engine overloaded');
    expect(JSON.stringify(harness.logs.withMessage('request refused'))).toContain('engine overloaded');
  });

  it('maps a body over the limit to 413 payload_too_large', async () => {
    const { instance } = appWithRoutes();
    app = instance;
    const response = await app.inject({ method: 'POST', url: '/echo', payload: { text: 'x'.repeat(2000) } });
    expect(response.statusCode).toBe(413);
    expect(response.json().error).toMatchObject({ code: 'payload_too_large', retryable: false });
  });

  it('maps malformed JSON to 400 invalid_request', async () => {
    const { instance } = appWithRoutes();
    app = instance;
    const response = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"unterminated": ',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'invalid_request', retryable: false });
  });

  it('maps an unsupported content type to 415 unsupported_media_type', async () => {
    const { instance } = appWithRoutes();
    app = instance;
    const response = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/xml' },
      payload: '<a/>',
    });
    expect(response.statusCode).toBe(415);
    expect(response.json().error).toMatchObject({ code: 'unsupported_media_type' });
  });

  it('never logs the Authorization header', async () => {
    const { instance, harness } = appWithRoutes();
    app = instance;
    await app.inject({
      method: 'GET',
      url: '/throws-anything',
      headers: { authorization: 'Bearer rk_demo01.topsecret' },
    });
    expect(JSON.stringify(harness.logs.lines())).not.toContain('topsecret');
  });
});
