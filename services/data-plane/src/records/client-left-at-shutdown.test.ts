import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fromBinary } from '@bufbuild/protobuf';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsageRecordSchema } from '@api-router/contracts';
import { waitFor } from '@api-router/testing';
import { startInferenceHarness, type InferenceHarness } from '../testing/inference-harness.test-support.js';
import { TEST_KEYS, testApiKey } from '../testing/test-policy.test-support.js';
import {
  expectNoAppendAfterClose,
  recordsAfterShutdown,
  waitForServerClosing,
} from './shutdown.test-support.js';

// The data plane shutting down while a request is in flight, and that request's client leaving: the HTTP
// server's close ends with the last connection, but the request's handler writes its usage record (499)
// after its connection is gone. The record must still reach the outbox before the outbox closes.

describe.each([{ stream: false }, { stream: true }])(
  'a request (stream: $stream) whose client leaves while the data plane shuts down',
  ({ stream }) => {
    let harness: InferenceHarness;
    let backend: Server;
    let requestArrived: Promise<void>;
    beforeEach(async () => {
      // A backend that never ends its answer (a stream gets its headers and a first event): the request
      // stays in flight until its client leaves.
      let arrived: () => void = () => undefined;
      requestArrived = new Promise((resolve) => {
        arrived = resolve;
      });
      backend = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          if ((JSON.parse(Buffer.concat(chunks).toString()) as { stream?: boolean }).stream === true) {
            response.writeHead(200, { 'content-type': 'text/event-stream' });
            response.write(
              'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n',
            );
          }
          arrived();
        });
      });
      await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(backend.address() as AddressInfo).port}/v1`;
      harness = await startInferenceHarness({ backendUrls: { 'mock-a': url, 'mock-b': url } });
      // Shutdown waits for a policy cache write still in progress: that disk time would let the request's
      // handler finish first by chance. Without it shutdown is as quick as it gets.
      await waitFor('the policy cache to be written', () =>
        harness.logs().includes('policy cache saved') ? true : undefined,
      );
    });
    afterEach(async () => {
      await harness.close();
      backend.closeAllConnections();
      await new Promise((resolve) => backend.close(resolve));
    });

    it('keeps its usage record (499)', async () => {
      const requestId = `left-at-shutdown-${stream ? 'stream' : 'whole'}`;
      const client = new AbortController();
      const response = fetch(`${harness.url}/v1/chat/completions`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${testApiKey(TEST_KEYS.demo)}`,
          'content-type': 'application/json',
          'x-request-id': requestId,
        },
        body: JSON.stringify({ model: 'demo-chat', messages: [{ role: 'user', content: 'hi' }], stream }),
        signal: client.signal,
      });
      void response.catch(() => undefined); // Rejects when the client leaves, below.
      await requestArrived;
      // A stream: its first event reached the client, so the router is relaying it.
      if (stream) await (await response).body!.getReader().read();

      const stopped = harness.dataPlane[Symbol.asyncDispose]();
      // The server is closing (it refuses new connections) but waits for the request's connection.
      await waitForServerClosing(harness);
      client.abort();
      await stopped;

      const records = await recordsAfterShutdown(harness);
      const usage = records
        .filter((record) => record.topic === 'usage' && record.key === requestId)
        .map((record) => fromBinary(UsageRecordSchema, record.payload));
      expect(usage).toMatchObject([{ requestId, statusCode: 499, streamed: stream }]);
      await expectNoAppendAfterClose(harness);
    });
  },
);
