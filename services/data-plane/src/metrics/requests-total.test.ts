import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@api-router/testing';
import { metricValue } from '../../test/support/data-plane-harness.js';
import { startInferenceHarness, type InferenceHarness } from '../testing/inference-harness.test-support.js';

// router_requests_total counts every inference API request once, however it ends: also one the app refuses
// in its own onRequest hook (no Host, not ready), which runs before the inference routes' hooks.

let harness: InferenceHarness;
beforeAll(async () => {
  harness = await startInferenceHarness();
});
afterAll(async () => {
  await harness.close();
});

/** Sends `head` (request line and headers) on a fresh connection; resolves with the whole answer. */
function rawRequest(port: number, head: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.write([...head, 'connection: close', '', ''].join('\r\n'));
  });
}

describe('router_requests_total', { timeout: 20_000 }, () => {
  it('counts an inference request refused before routing for want of a Host header (route none, 4xx)', async () => {
    const counted = async () =>
      metricValue(await harness.metricsText(), 'router_requests_total', {
        route: 'none',
        status_class: '4xx',
      }) ?? 0;
    const before = await counted();
    const answer = await rawRequest(Number(new URL(harness.url).port), [
      'POST /v1/chat/completions HTTP/1.1',
      'content-type: application/json',
      'content-length: 0',
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    await waitFor('the request is counted', async () =>
      (await counted()) === before + 1 ? true : undefined,
    );
    // Once: nothing counts it again later.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await counted()).toBe(before + 1);
  });
});
