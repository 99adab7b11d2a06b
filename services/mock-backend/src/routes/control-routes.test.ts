import { describe, expect, it } from 'vitest';
import { buildTestApp, TEST_NOW_MS } from '../app-harness.test-support.js';
import { REDACTED_MARKER } from '../request-recorder.js';

const messages = [{ role: 'user', content: 'Say hello to the router tests.' }];

describe('/control/faults', () => {
  it('switches instance faults at runtime through /control/faults', async () => {
    await using test = buildTestApp();
    const { app } = test;
    const update = await app.inject({ method: 'PUT', url: '/control/faults', payload: { errorRate: 1 } });
    expect(update.json()).toMatchObject({ errorRate: 1, latencyMs: 0 });
    const failing = await app.inject({ method: 'GET', url: '/v1/models' });
    expect(failing.statusCode).toBe(500);
    const invalid = await app.inject({ method: 'PUT', url: '/control/faults', payload: { errorRate: 2 } });
    expect(invalid.statusCode).toBe(400);
    const unknown = await app.inject({ method: 'PUT', url: '/control/faults', payload: { latency: 1 } });
    expect(unknown.statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/control/faults' })).json().errorRate).toBe(1);
  });
});

describe('health', () => {
  it('flips between 200 and 503 through /control/health', async () => {
    await using test = buildTestApp();
    const { app } = test;
    expect((await app.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' });
    const flip = await app.inject({ method: 'POST', url: '/control/health', payload: { healthy: false } });
    expect(flip.json()).toEqual({ healthy: false });
    const unhealthy = await app.inject({ method: 'GET', url: '/health' });
    expect(unhealthy.statusCode).toBe(503);
    expect(unhealthy.json()).toEqual({ status: 'unhealthy' });
    await app.inject({ method: 'POST', url: '/control/health', payload: { healthy: true } });
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    expect(
      (await app.inject({ method: 'POST', url: '/control/health', payload: { healthy: 'no' } })).statusCode,
    ).toBe(400);
  });

  it('starts unhealthy when configured so', async () => {
    await using test = buildTestApp({ healthy: false });
    const { app } = test;
    expect((await app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(503);
  });
});

describe('request recording', () => {
  it('records method, url, headers with credentials redacted, and body; not control calls', async () => {
    await using test = buildTestApp();
    const { app } = test;
    await app.inject({
      method: 'POST',
      url: '/v1/chat/completions?x=1',
      headers: {
        authorization: 'Bearer sk-backend-secret',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      },
      payload: { model: 'm', messages },
    });
    await app.inject({ method: 'GET', url: '/control/faults' });
    const response = await app.inject({ method: 'GET', url: '/control/requests' });
    const { requests } = response.json();
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      method: 'POST',
      url: '/v1/chat/completions?x=1',
      body: { model: 'm', messages },
      receivedAtMs: TEST_NOW_MS,
    });
    expect(requests[0].headers.authorization).toBe(REDACTED_MARKER);
    expect(requests[0].headers.traceparent).toBe('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    expect(response.body).not.toContain('sk-backend-secret');

    expect((await app.inject({ method: 'DELETE', url: '/control/requests' })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: '/control/requests' })).json()).toEqual({ requests: [] });
  });

  it('records requests that were failed by a fault, so attempts can be counted', async () => {
    await using test = buildTestApp();
    const { app } = test;
    await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      headers: { 'x-mock-status': '502' },
      payload: { model: 'm', messages },
    });
    expect((await app.inject({ method: 'GET', url: '/control/requests' })).json().requests).toHaveLength(1);
  });
});
