import { afterEach, describe, expect, it, vi } from 'vitest';
import { Outbox } from '@api-router/outbox';
import { freePort } from '@api-router/testing';
import { recordsAfterShutdown } from './records/shutdown.test-support.js';
import {
  postAsKey,
  startInferenceHarness,
  type InferenceHarness,
} from './testing/inference-harness.test-support.js';
import { TEST_KEYS } from './testing/test-policy.test-support.js';

// The shutdown is a sequence of steps (service.ts): one that fails must neither skip the later ones (the
// outbox left unclosed, Redis and the pools left open) nor, when it is only telemetry, turn a clean stop
// into exit code 1.

const messages = [{ role: 'user', content: 'hi' }];

async function answered(harness: InferenceHarness, requestId: string): Promise<void> {
  const response = await postAsKey(
    `${harness.url}/v1/chat/completions`,
    TEST_KEYS.demo,
    { model: 'demo-chat', messages },
    { 'x-request-id': requestId },
  );
  expect(response.status).toBe(200);
  await response.text();
}

function usageKeys(records: Awaited<ReturnType<typeof recordsAfterShutdown>>): string[] {
  return records.filter((record) => record.topic === 'usage').map((record) => record.key);
}

describe('data plane shutdown steps', () => {
  let harness: InferenceHarness | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await harness?.close().catch(() => undefined);
    harness = undefined;
  });

  it('a trace exporter that cannot deliver its last spans does not fail a clean shutdown', async () => {
    // Nothing listens there: the spans of the request below cannot be exported at shutdown.
    const otlpTracesEndpoint = `http://127.0.0.1:${await freePort()}/v1/traces`;
    harness = await startInferenceHarness({ config: { otlpTracesEndpoint } });
    await answered(harness, 'traced-before-shutdown');

    await expect(harness.dataPlane[Symbol.asyncDispose]()).resolves.toBeUndefined();
    expect(harness.logs()).toContain('"msg":"stopped"');
    expect(usageKeys(await recordsAfterShutdown(harness))).toContain('traced-before-shutdown');
  });

  it('a step that fails does not skip the later ones, and the shutdown still reports the failure', async () => {
    harness = await startInferenceHarness();
    await answered(harness, 'answered-before-shutdown');
    const failure = new Error('policy channel close failed');
    harness.transport.close = () => {
      throw failure;
    };

    await expect(harness.dataPlane[Symbol.asyncDispose]()).rejects.toBe(failure);
    const logs = harness.logs();
    // The steps after the policy stream still ran: the record shipping and the upstream pools closed.
    expect(logs).toContain('"msg":"upstream pool closed"');
    expect(logs).toContain('"step":"policy stream"');
    expect(logs).not.toContain('"msg":"stopped"');
    expect(usageKeys(await recordsAfterShutdown(harness))).toContain('answered-before-shutdown');
  });

  it('fails when the outbox cannot close cleanly (its last fdatasync failed), after every other step', async () => {
    harness = await startInferenceHarness();
    await answered(harness, 'answered-before-a-failed-sync');
    const failure = new Error('fdatasync failed: EIO');
    const spy = vi.spyOn(Outbox.prototype, 'close');
    // The real close runs (files closed), then reports the failed sync as Outbox.close does.
    spy.mockImplementationOnce(async function (this: Outbox) {
      spy.mockRestore();
      await this.close();
      throw failure;
    });

    await expect(harness.dataPlane[Symbol.asyncDispose]()).rejects.toBe(failure);
    const logs = harness.logs();
    expect(logs).toContain('"msg":"outbox close failed"');
    expect(logs).toContain('"msg":"upstream pool closed"');
    expect(logs).not.toContain('"msg":"stopped"');
  });
});
