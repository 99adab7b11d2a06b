import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '@api-router/testing';
import { recordsAfterShutdown, waitForServerClosing } from '../records/shutdown.test-support.js';
import { startInferenceHarness, type InferenceHarness } from '../testing/inference-harness.test-support.js';
import { TEST_KEYS, testApiKey } from '../testing/test-policy.test-support.js';

// A request in flight when the data plane shuts down, from a client that keeps its connections alive (every
// HTTP client pool does): once its answer is complete, the server's close must not wait for that idle
// connection until the keep-alive timeout (72 s) ends it, past any pod's grace period.

interface Sent {
  readonly response: Promise<IncomingMessage>;
  readonly socketClosed: Promise<void>;
}

/** POSTs a chat completion on a kept-alive connection; `socketClosed` resolves when the server ends it. */
function post(harness: InferenceHarness, agent: Agent, requestId: string, stream: boolean): Sent {
  const body = JSON.stringify({ model: 'demo-chat', messages: [{ role: 'user', content: 'hi' }], stream });
  const request = httpRequest(`${harness.url}/v1/chat/completions`, {
    method: 'POST',
    agent,
    headers: {
      authorization: `Bearer ${testApiKey(TEST_KEYS.demo)}`,
      'content-type': 'application/json',
      'x-request-id': requestId,
      // Slow enough that shutdown begins while the request is in flight.
      'x-mock-output-tokens': '10',
      'x-mock-chunk-delay-ms': '50',
      'x-mock-first-byte-delay-ms': '300',
    },
  });
  const socketClosed = new Promise<void>((resolve) =>
    request.once('socket', (socket: Socket) => socket.once('close', () => resolve())),
  );
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    request.once('response', resolve);
    request.once('error', reject);
  });
  request.end(body);
  return { response, socketClosed };
}

function readAll(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (text += chunk));
    response.once('end', () => resolve(text));
    response.once('error', reject);
  });
}

describe.each([{ stream: false }, { stream: true }])(
  'a request (stream: $stream) in flight at shutdown on a kept-alive connection',
  ({ stream }) => {
    let harness: InferenceHarness;
    let agent: Agent;
    afterEach(async () => {
      agent.destroy();
      await harness.close();
    });

    it('is answered in full, then its connection is closed and shutdown completes', async () => {
      harness = await startInferenceHarness();
      // The client keeps the connection as long as the server allows (the test's own timeout is the bound).
      agent = new Agent({ keepAlive: true, keepAliveMsecs: 600_000 });
      const requestId = `kept-alive-${stream ? 'stream' : 'whole'}`;
      const sent = post(harness, agent, requestId, stream);
      await waitFor('the backend to receive the request', () =>
        harness.backends['mock-a'].requests().length > 0 ? true : undefined,
      );
      // A stream is relaying (its headers, keep-alive, are sent); a JSON answer has not begun.
      if (stream) await sent.response;

      const stopped = harness.dataPlane[Symbol.asyncDispose]();
      await waitForServerClosing(harness);
      const response = await sent.response;
      const text = await readAll(response);

      expect(response.statusCode).toBe(200);
      expect(text).toContain(stream ? 'data: [DONE]' : '"finish_reason"');
      await sent.socketClosed;
      await stopped;
      const usage = (await recordsAfterShutdown(harness)).filter(
        (record) => record.topic === 'usage' && record.key === requestId,
      );
      expect(usage).toHaveLength(1);
    }, 20_000);
  },
);
