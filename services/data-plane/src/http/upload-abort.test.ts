import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '@api-router/testing';
import { startInferenceHarness, type InferenceHarness } from '../testing/inference-harness.test-support.js';
import { TEST_KEYS, testApiKey } from '../testing/test-policy.test-support.js';

// A client that leaves while it is still sending its body is no failure of the router (error-handler.ts).
describe('a client that leaves mid-upload', () => {
  let harness: InferenceHarness;
  beforeAll(async () => {
    harness = await startInferenceHarness();
  });
  afterAll(async () => {
    await harness.close();
  });

  it.each([
    ['content-length: 1000', '{"model":"demo-chat","messages":['],
    // A chunked body goes through the policy-limit counter (body-length-limit.ts) first.
    ['transfer-encoding: chunked', '3e8\r\n{"model":"demo-chat","messages":['],
  ])('is logged as 499, not as an internal error of the router (%s)', async (framing, bodyStart) => {
    const requestId = `leaves-mid-upload-${framing.split(':')[0]}`;
    const { port } = new URL(harness.url);
    const socket = connect(Number(port), '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(
      [
        'POST /v1/chat/completions HTTP/1.1',
        `host: 127.0.0.1:${port}`,
        `authorization: Bearer ${testApiKey(TEST_KEYS.demo)}`,
        'content-type: application/json',
        `x-request-id: ${requestId}`,
        framing,
        '',
        bodyStart,
      ].join('\r\n'),
    );
    const lines = () => harness.logLinesOf(requestId);
    // The request has begun (its body is being read) before the client leaves.
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    const completed = await waitFor('the request line', () =>
      Promise.resolve(lines().find((line) => line.msg === 'request completed')),
    );
    expect(completed).toMatchObject({ status: 499 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(lines().filter((line) => (line.level as number) >= 40)).toEqual([]);
  });
});
