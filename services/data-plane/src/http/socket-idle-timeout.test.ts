import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HTTP_SETTINGS } from '../config.js';
import { startInferenceHarness, type InferenceHarness } from '../testing/inference-harness.test-support.js';
import { TEST_KEYS, testApiKey } from '../testing/test-policy.test-support.js';
import { DEADLINE_IDLE_MARGIN_MS, keepSocketOpenUntilDeadline } from './socket-idle-timeout.js';

/** A socket stand-in that records setTimeout calls. */
function fakeSocket(timeout: number | undefined): Socket & { calls: number[] } {
  const calls: number[] = [];
  return {
    timeout,
    calls,
    setTimeout(ms: number) {
      calls.push(ms);
      return this;
    },
  } as unknown as Socket & { calls: number[] };
}

describe('keepSocketOpenUntilDeadline', () => {
  it('raises a shorter idle timeout to the deadline plus the margin, and never lowers one', () => {
    const short = fakeSocket(300_000);
    keepSocketOpenUntilDeadline(short, 600_000);
    expect(short.calls).toEqual([600_000 + DEADLINE_IDLE_MARGIN_MS]);

    const long = fakeSocket(300_000);
    keepSocketOpenUntilDeadline(long, 30_000);
    expect(long.calls).toEqual([]);

    const none = fakeSocket(0);
    keepSocketOpenUntilDeadline(none, 600_000);
    expect(none.calls).toEqual([]);
    keepSocketOpenUntilDeadline(null, 600_000);
  });
});

describe('a request slower than the server idle timeout but within its deadline', () => {
  let harness: InferenceHarness;
  beforeAll(async () => {
    // 1 s of silence closes a client socket; the test policy's deadline is 30 s.
    harness = await startInferenceHarness({
      config: { http: { ...DEFAULT_HTTP_SETTINGS, connectionTimeoutMs: 1000 } },
    });
  });
  afterAll(async () => {
    await harness.close();
  });

  it('gets its answer instead of a closed connection', async () => {
    const response = await fetch(`${harness.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${testApiKey(TEST_KEYS.demo)}`,
        'content-type': 'application/json',
        'x-mock-latency-ms': '2500',
      },
      body: JSON.stringify({
        model: 'demo-chat',
        messages: [{ role: 'user', content: 'Hi' }],
        max_tokens: 2,
      }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ object: 'chat.completion' });
  });
});
