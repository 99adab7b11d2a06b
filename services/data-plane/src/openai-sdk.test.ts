import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSnapshot, parseConfig } from '@api-router/policy';
import { startInferenceHarness, type InferenceHarness } from './testing/inference-harness.test-support.js';

// The official `openai` SDK, unchanged, pointed at the data plane with the demo API key of the sample
// configs (configs/*.sample.yaml, their backends moved to in-process mock backends).

const DEMO_API_KEY = 'rk_demo01.YmUUyWFXfjfbBZ-cVLPCiTtQOV2YgbSUDT9XKQxfTGA'; // the documented demo-only key (configs/policies.sample.yaml)

function sampleSnapshot(urls: Record<'mock-a' | 'mock-b', string>) {
  const read = (name: string) => ({
    source: name,
    text: readFileSync(new URL(`../../../configs/${name}`, import.meta.url), 'utf8'),
  });
  const config = parseConfig({ router: read('router.sample.yaml'), policies: read('policies.sample.yaml') });
  for (const backend of config.router.backends) {
    const url = urls[backend.id as 'mock-a' | 'mock-b'];
    if (url === undefined) throw new Error(`sample backend ${backend.id} has no mock`);
    backend.baseUrl = url;
  }
  return compileSnapshot(config, {
    version: 1n,
    sourceRevision: 'sample',
    createdAt: new Date(1_700_000_000_000),
  });
}

let harness: InferenceHarness;
let client: OpenAI;
beforeAll(async () => {
  harness = await startInferenceHarness({ buildSnapshot: sampleSnapshot });
  client = new OpenAI({ apiKey: DEMO_API_KEY, baseURL: `${harness.url}/v1`, maxRetries: 0 });
});
afterAll(async () => {
  await harness.close();
});

const messages = [{ role: 'user' as const, content: 'Hello from the official SDK' }];

/** A client that retries as the SDK does by default (2 retries), counting the HTTP requests it sends. */
function retryingClient(): { client: OpenAI; calls: () => number } {
  let calls = 0;
  const client = new OpenAI({
    apiKey: DEMO_API_KEY,
    baseURL: `${harness.url}/v1`,
    maxRetries: 2,
    fetch: (url, init) => {
      calls += 1;
      return fetch(url, init);
    },
  });
  return { client, calls: () => calls };
}

describe('the openai SDK against the router', () => {
  it('creates a chat completion and exposes the router headers', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'demo-chat', messages, max_completion_tokens: 3 })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]?.message.content).toBe('tok0 tok1 tok2');
    expect(data.usage?.completion_tokens).toBe(3);
    expect(response.headers.get('x-router-route')).toBe('demo-chat');
    expect(['mock-a', 'mock-b']).toContain(response.headers.get('x-router-backend'));
  });

  it('streams a chat completion, usage included when asked for', async () => {
    const stream = await client.chat.completions.create({
      model: 'demo-chat',
      messages,
      max_tokens: 4,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let completionTokens: number | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      completionTokens = chunk.usage?.completion_tokens ?? completionTokens;
    }
    expect(text).toBe('tok0 tok1 tok2 tok3');
    expect(completionTokens).toBe(4);
  });

  it('lists the models the key may use', async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model.id);
    expect(models).toEqual(['demo-chat']);
  });

  it('retrieves a model the key may use, and answers 404 for one it may not or that does not exist', async () => {
    const model = await client.models.retrieve('demo-chat');
    expect(model).toMatchObject({ id: 'demo-chat', object: 'model', owned_by: 'api-router' });
    for (const id of ['nope', 'org/model-with-a-slash']) {
      const missing = await client.models.retrieve(id).catch((error: unknown) => error);
      expect(missing).toBeInstanceOf(OpenAI.NotFoundError);
      expect(missing).toMatchObject({ status: 404, code: 'model_not_found' });
    }
  });

  it("answers an endpoint the router does not offer in OpenAI's error shape", async () => {
    const unknown = await client.embeddings
      .create({ model: 'demo-chat', input: 'hi' })
      .catch((error: unknown) => error);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect(unknown).toMatchObject({ status: 404, code: 'not_found', type: 'not_found_error' });
  });

  it("raises the SDK's typed errors from the router's OpenAI-shaped errors", async () => {
    const notFound = await client.chat.completions
      .create({ model: 'nope', messages })
      .catch((error: unknown) => error);
    expect(notFound).toBeInstanceOf(OpenAI.NotFoundError);
    expect(notFound).toMatchObject({ status: 404, code: 'model_not_found', type: 'not_found_error' });

    const stranger = new OpenAI({ apiKey: 'rk_demo01.wrong', baseURL: `${harness.url}/v1`, maxRetries: 0 });
    const denied = await stranger.models.list().catch((error: unknown) => error);
    expect(denied).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(denied).toMatchObject({ status: 401, code: 'unauthenticated' });
  });

  it('does not retry a 429 that no wait can admit (a request above the token burst)', async () => {
    const { client: retrying, calls } = retryingClient();
    // The demo key's token burst is 50 000: a 60 000-token output limit can never be granted at once.
    const tooLarge = await retrying.chat.completions
      .create({ model: 'demo-chat', messages, max_tokens: 60_000 })
      .catch((error: unknown) => error);
    expect(tooLarge).toBeInstanceOf(OpenAI.RateLimitError);
    expect(tooLarge).toMatchObject({ status: 429, code: 'request_exceeds_limit', type: 'rate_limit_error' });
    expect((tooLarge as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('retry-after')).toBeNull();
    expect(calls()).toBe(1);
  });

  // A backend's 400 (context too long, a bad parameter) cannot succeed on a retry: as a retryable 502 the
  // SDK sent it three times, each admitted and rate-limited again, and the backend's reason was lost.
  it("does not retry a request the backend refused as invalid, and relays the backend's reason", async () => {
    const { client: retrying, calls } = retryingClient();
    const refused = await retrying.chat.completions
      .create({ model: 'demo-chat', messages }, { headers: { 'x-mock-status': '400' } })
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.BadRequestError);
    expect(refused).toMatchObject({ status: 400, code: 'upstream_rejected', type: 'invalid_request_error' });
    expect((refused as Error).message).toContain('Mock backend forced status 400');
    expect(calls()).toBe(1);
  });
});
