import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hashSecret } from '@api-router/policy';
import { freePort } from '@api-router/testing';
import { startInferenceHarness, type InferenceHarness } from './testing/inference-harness.test-support.js';
import { compileTestSnapshot, testApiKey } from './testing/test-policy.test-support.js';

// A backend's outputLimitParam over HTTP: the output limit the router sets (the cap imposed on a request
// without one, /v1/inference's max_output_tokens) reaches each backend in the field it takes, while the
// limits an OpenAI client sets go as sent. mock-a keeps the default (max_tokens), mock-b takes
// max_completion_tokens (as OpenAI's reasoning models require), mock-dead takes max_tokens and refuses
// connections, so that a failover to mock-b shows the body is built for each target.

/** Output tokens the policy assumes, and so imposes, for a request without a limit. */
const CAP = 6;
/** Its token rate makes admission charge tokens, which is when the router imposes the cap. */
const KEY = 'rk_capped1';

function routerYaml(urls: Record<'mock-a' | 'mock-b', string>, deadUrl: string): string {
  const backend = (id: string, url: string, extra = '') =>
    `  - { id: ${id}, baseUrl: ${url}, connectTimeoutMs: 1000, firstByteTimeoutMs: 5000${extra} }`;
  return `settings:
  defaultMaxOutputTokens: ${CAP}
backends:
${backend('mock-a', urls['mock-a'])}
${backend('mock-b', urls['mock-b'], ', outputLimitParam: max_completion_tokens')}
${backend('mock-dead', deadUrl, ', outputLimitParam: max_tokens')}
routes:
  - id: plain
    model: plain-chat
    targets: [{ backend: mock-a, upstreamModel: llama }]
  - id: reasoning
    model: reasoning-chat
    targets: [{ backend: mock-b, upstreamModel: o3 }]
  - id: failover
    model: failover-chat
    maxAttempts: 2
    targets:
      - { backend: mock-dead, priority: 0, upstreamModel: llama }
      - { backend: mock-b, priority: 1, upstreamModel: o3 }
`;
}

const POLICIES_YAML = `tenants: [{ id: acme }]
apiKeys:
  - publicId: ${KEY}
    secretSha256: ${hashSecret(testApiKey(KEY))}
    tenant: acme
    allowedModels: ['*']
    limits: { tokensPerMinute: 1000000, tokenBurst: 1000000 }
`;

let harness: InferenceHarness;
beforeAll(async () => {
  const deadUrl = `http://127.0.0.1:${await freePort()}/v1`;
  harness = await startInferenceHarness({
    buildSnapshot: (urls) => compileTestSnapshot(routerYaml(urls, deadUrl), POLICIES_YAML),
  });
});
afterAll(async () => {
  await harness.close();
});
beforeEach(() => {
  harness.backends['mock-a'].clearRequests();
  harness.backends['mock-b'].clearRequests();
});

const messages = [{ role: 'user', content: 'think hard' }];

/** Posts `body` and reads the whole answer, which must be a 200; its headers. */
async function post(path: string, body: Record<string, unknown>): Promise<Headers> {
  const response = await fetch(`${harness.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${testApiKey(KEY)}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return response.headers;
}

/** The body of the one request `backend` received. */
function upstreamBody(backend: 'mock-a' | 'mock-b'): Record<string, unknown> {
  const requests = harness.backends[backend].requests();
  expect(requests).toHaveLength(1);
  return requests[0]!.body as Record<string, unknown>;
}

describe('the output cap the router imposes on a chat request without a limit', () => {
  it('goes as max_completion_tokens, and no max_tokens, to a backend that takes that field', async () => {
    await post('/v1/chat/completions', { model: 'reasoning-chat', messages });
    const body = upstreamBody('mock-b');
    expect(body).toMatchObject({ model: 'o3', max_completion_tokens: CAP });
    expect(body).not.toHaveProperty('max_tokens');
  });

  it('goes as max_tokens to a backend left at the default', async () => {
    await post('/v1/chat/completions', { model: 'plain-chat', messages, stream: true });
    const body = upstreamBody('mock-a');
    expect(body).toMatchObject({ model: 'llama', max_tokens: CAP });
    expect(body).not.toHaveProperty('max_completion_tokens');
  });

  it("replaces a null limit: one limit field goes, in the backend's name", async () => {
    await post('/v1/chat/completions', { model: 'reasoning-chat', messages, max_tokens: null });
    const body = upstreamBody('mock-b');
    expect(body).toMatchObject({ max_completion_tokens: CAP });
    expect(body).not.toHaveProperty('max_tokens');
  });

  it('goes in the field of the backend a failover reaches, not of the one first tried', async () => {
    const headers = await post('/v1/chat/completions', { model: 'failover-chat', messages });
    expect(headers.get('x-router-backend')).toBe('mock-b');
    expect(headers.get('x-router-attempts')).toBe('2');
    const body = upstreamBody('mock-b');
    expect(body).toMatchObject({ model: 'o3', max_completion_tokens: CAP });
    expect(body).not.toHaveProperty('max_tokens');
  });
});

describe("a chat request's own output limit", () => {
  it.each([{ max_tokens: 3 }, { max_completion_tokens: 3 }, { max_tokens: 2, max_completion_tokens: 3 }])(
    'passes through as sent, whatever the backend takes (%o)',
    async (limits) => {
      await post('/v1/chat/completions', { model: 'reasoning-chat', messages, ...limits });
      const body = upstreamBody('mock-b');
      expect(body).toMatchObject(limits);
      expect(Object.keys(body).filter((key) => key.startsWith('max_'))).toEqual(Object.keys(limits));
    },
  );
});

describe('/v1/inference', () => {
  it('sends max_output_tokens as max_completion_tokens to a backend that takes that field', async () => {
    await post('/v1/inference', { model: 'reasoning-chat', messages, max_output_tokens: 4 });
    const body = upstreamBody('mock-b');
    expect(body).toMatchObject({ model: 'o3', max_completion_tokens: 4 });
    expect(body).not.toHaveProperty('max_tokens');
  });

  it('sends the imposed cap as max_completion_tokens there too', async () => {
    await post('/v1/inference', { model: 'reasoning-chat', messages, stream: true });
    const body = upstreamBody('mock-b');
    expect(body).toMatchObject({ max_completion_tokens: CAP });
    expect(body).not.toHaveProperty('max_tokens');
  });

  it('sends max_output_tokens as max_tokens to a backend left at the default', async () => {
    await post('/v1/inference', { model: 'plain-chat', messages, max_output_tokens: 4 });
    const body = upstreamBody('mock-a');
    expect(body).toMatchObject({ model: 'llama', max_tokens: 4 });
    expect(body).not.toHaveProperty('max_completion_tokens');
  });
});
