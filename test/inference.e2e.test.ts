import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSigner } from '@api-router/auth';
import { InferenceResponseSchema } from '@api-router/contracts';
import { completionText, countCompletionTokens, countPromptTokens } from '@api-router/mock-backend';
import {
  DEMO_API_KEY,
  DEMO_KEY_SECRET,
  DEMO_MODEL,
  addApiKey,
  addTenant,
} from './support/inference-config.js';
import {
  filesContaining,
  filesUnder,
  parseSse,
  postJson,
  runConcurrently,
} from './support/inference-requests.js';
import { startInferenceStack, type InferenceStack } from './support/inference-stack.js';
import { clearRecordedRequests, recordedRequests } from './support/mock-backend-process.js';
import { adminCall, eventually, metricValue, readiness, scrape } from './support/planes.js';

// Issue 3's end-to-end acceptance with real processes: two mock backends, the control plane and the data
// plane, each its own Node process, configured from copies of configs/*.sample.yaml (route demo-chat:
// mock-a weight 70, mock-b weight 30). The cases run in order and share the processes.

const MOCK_OUTPUT_TOKENS = 16; // the mock's default
const BULK_KEY = `rk_e2ebulk.${randomBytes(24).toString('base64url')}`;
const SIGNER_KEY_ID = 'rk_e2esig';
const SIGNING_SECRET = randomBytes(32);
const messages = [{ role: 'user' as const, content: 'Route this through two real processes, please.' }];

let stack: InferenceStack;
let dataPlaneUrl: string;

beforeAll(async () => {
  stack = await startInferenceStack({
    mocks: { 'mock-a': { MOCK_RECORD_LIMIT: '1000' }, 'mock-b': { MOCK_RECORD_LIMIT: '1000' } },
    // A key without limits for the bulk traffic, so that rate limits (issue 4) never turn it into 429s.
    prepare: (workspace) => {
      addTenant(workspace.policiesConfig, 'e2e');
      addApiKey(workspace.policiesConfig, { key: BULK_KEY, tenant: 'e2e' });
    },
    // debug: the plaintext check below is worth more when the data plane logs all it can.
    dataPlaneEnv: {
      DP_ID: 'dp-inference-e2e',
      LOG_LEVEL: 'debug',
      E2E_SIGNING_SECRET: SIGNING_SECRET.toString('base64'),
    },
  });
  dataPlaneUrl = stack.dataPlane.url;
});

afterAll(async () => {
  await stack?.stop();
});

function inferenceResponse(json: unknown) {
  return fromJson(InferenceResponseSchema, json as JsonValue);
}

describe('inference through real control plane, data plane and mock backend processes', () => {
  it('answers POST /v1/inference with the mock’s deterministic completion and the router block', async () => {
    const response = await postJson(
      `${dataPlaneUrl}/v1/inference`,
      { model: DEMO_MODEL, messages, max_output_tokens: 5 },
      { authorization: `Bearer ${DEMO_API_KEY}`, 'x-request-id': 'e2e-inference-1' },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toBe('e2e-inference-1');
    const body = inferenceResponse(await response.json());
    const expected = countCompletionTokens({ maxTokens: 5, outputTokens: MOCK_OUTPUT_TOKENS });
    expect(body).toMatchObject({
      model: DEMO_MODEL,
      output: { role: 'assistant', content: completionText(expected.completionTokens) },
      finishReason: expected.finishReason,
      usage: {
        inputTokens: BigInt(countPromptTokens(messages)),
        outputTokens: BigInt(expected.completionTokens),
      },
      router: { requestId: 'e2e-inference-1', routeId: DEMO_MODEL },
    });
    const router = body.router!;
    expect(['mock-a', 'mock-b']).toContain(router.backendId);
    expect(router.attempts).toBeGreaterThanOrEqual(1);
    expect(router.totalMs).toBeGreaterThanOrEqual(router.upstreamMs);
    expect(router.overheadMs).toBeGreaterThanOrEqual(0);
    expect(router.policyVersion).toBeGreaterThan(0n);

    // Without an incoming id the router makes one, and the header and the body agree on it.
    const second = await postJson(
      `${dataPlaneUrl}/v1/inference`,
      { model: DEMO_MODEL, messages, max_output_tokens: 40 },
      { authorization: `Bearer ${DEMO_API_KEY}` },
    );
    const secondBody = inferenceResponse(await second.json());
    expect(secondBody.router?.requestId).toBe(second.headers.get('x-request-id'));
    expect(secondBody.router?.requestId).not.toBe('e2e-inference-1');
    expect(secondBody.usage?.outputTokens).toBe(BigInt(MOCK_OUTPUT_TOKENS));
    expect(secondBody.finishReason).toBe('stop');
  });

  describe('the official openai SDK, unchanged, against the data plane', () => {
    const client = (): OpenAI =>
      new OpenAI({ apiKey: DEMO_API_KEY, baseURL: `${dataPlaneUrl}/v1`, maxRetries: 0 });

    it('creates a chat completion (JSON) with router headers', async () => {
      const { data, response } = await client()
        .chat.completions.create({
          model: DEMO_MODEL,
          messages: [{ role: 'user', content: 'Hello' }],
          max_tokens: 3,
        })
        .withResponse();
      expect(data.choices[0]?.message.content).toBe(completionText(3));
      expect(data.usage).toMatchObject({
        prompt_tokens: countPromptTokens([{ content: 'Hello' }]),
        completion_tokens: 3,
      });
      expect(['mock-a', 'mock-b']).toContain(response.headers.get('x-router-backend'));
      expect(Number(response.headers.get('x-router-overhead-ms'))).toBeGreaterThanOrEqual(0);
    });

    it('streams a chat completion, usage included when asked for', async () => {
      const stream = await client().chat.completions.create({
        model: DEMO_MODEL,
        messages,
        max_tokens: 6,
        stream: true,
        stream_options: { include_usage: true },
      });
      let content = '';
      let usage: OpenAI.CompletionUsage | null | undefined;
      for await (const chunk of stream) {
        content += chunk.choices[0]?.delta.content ?? '';
        usage = chunk.usage ?? usage;
      }
      expect(content).toBe(completionText(6));
      expect(usage).toMatchObject({ prompt_tokens: countPromptTokens(messages), completion_tokens: 6 });
    });

    it('lists the models the key may use, and raises AuthenticationError for a wrong key', async () => {
      const models = await client().models.list();
      expect(models.data.map((model) => model.id)).toContain(DEMO_MODEL);
      const wrong = new OpenAI({
        apiKey: 'rk_demo01.not-the-secret',
        baseURL: `${dataPlaneUrl}/v1`,
        maxRetries: 0,
      });
      await expect(wrong.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    });
  });

  it('spreads requests over both backends by weight, and the chosen backend is the one that served', async () => {
    await Promise.all(Object.values(stack.mocks).map(clearRecordedRequests));
    const total = 200;
    const served = await runConcurrently(total, 8, async (index) => {
      const response = await postJson(
        `${dataPlaneUrl}/v1/chat/completions`,
        { model: DEMO_MODEL, messages, max_tokens: 1 },
        { authorization: `Bearer ${BULK_KEY}`, 'x-request-id': `e2e-weights-${index}` },
      );
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      return { backend: response.headers.get('x-router-backend'), requestId: `e2e-weights-${index}` };
    });
    const share = (backend: string): number => served.filter((row) => row.backend === backend).length / total;
    // 70/30 in config; loose bounds so that chance never fails the test (P(outside) is astronomically small).
    expect(share('mock-a')).toBeGreaterThan(0.5);
    expect(share('mock-a')).toBeLessThan(0.9);
    expect(share('mock-b')).toBeGreaterThan(0.1);
    expect(share('mock-a') + share('mock-b')).toBe(1);

    for (const mock of Object.values(stack.mocks)) {
      const seen = new Set(
        (await recordedRequests(mock))
          .filter((request) => request.url === '/v1/chat/completions')
          .map((request) => request.headers['x-request-id']),
      );
      const claimed = served.filter((row) => row.backend === mock.id).map((row) => row.requestId);
      expect(seen.size).toBe(claimed.length);
      for (const requestId of claimed) expect(seen.has(requestId)).toBe(true);
    }
  });

  it('accepts a request signed with the reference signer (RFC 9421) once, and refuses its replay', async () => {
    const original = readFileSync(stack.workspace.policiesConfig, 'utf8');
    const before = await policyVersion();
    addApiKey(stack.workspace.policiesConfig, {
      key: `${SIGNER_KEY_ID}.${randomBytes(24).toString('base64url')}`,
      tenant: 'e2e',
      signingSecretRefs: ['env:E2E_SIGNING_SECRET'],
    });
    const outcome = await eventually(async () => {
      const status = await adminCall<{ lastError?: { path?: string; message?: string } }>(
        stack.controlPlane.httpUrl,
        'GetConfigStatus',
      );
      const problem = status.body.lastError?.message;
      if (problem !== undefined) return { problem: `${status.body.lastError?.path ?? ''}: ${problem}` };
      const version = await policyVersion();
      return version !== undefined && BigInt(version) > BigInt(before ?? 0)
        ? { problem: undefined }
        : undefined;
    });
    if (outcome.problem !== undefined) writeFileSync(stack.workspace.policiesConfig, original);
    expect(outcome.problem, 'an API key with signingSecretRefs in policies.yaml').toBeUndefined();

    const sign = createSigner({ keyId: SIGNER_KEY_ID, secret: SIGNING_SECRET });
    const url = `${dataPlaneUrl}/v1/chat/completions`;
    const body = JSON.stringify({ model: DEMO_MODEL, messages, max_tokens: 2 });
    const headers = sign({ method: 'POST', url, headers: { 'content-type': 'application/json' }, body });
    const first = await fetch(url, { method: 'POST', headers, body });
    expect(first.status).toBe(200);
    expect(
      ((await first.json()) as { choices: { message: { content: string } }[] }).choices[0]?.message.content,
    ).toBe(completionText(2));
    const replay = await fetch(url, { method: 'POST', headers, body });
    expect(replay.status).toBe(401);
    const unsigned = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    // The same body whichever check failed.
    expect(await replay.text()).toBe(await unsigned.text());
    expect(
      metricValue(
        await scrape(dataPlaneUrl),
        'router_auth_failures_total{reason="signature_replayed_nonce"}',
      ),
    ).toBeGreaterThanOrEqual(1);
  });

  it('never lets the demo key’s secret reach logs, metrics, data-plane files or control-plane state', async () => {
    // Requests that carry the secret in ways the router must refuse, and must not echo into a log line.
    const attempts: Record<string, string>[] = [
      { authorization: `Bearer rk_demo99.${DEMO_KEY_SECRET}` },
      { authorization: `Bearer ${DEMO_API_KEY}x` },
      { authorization: `Basic ${DEMO_API_KEY}` },
      { 'x-api-key': DEMO_API_KEY },
      { authorization: `Bearer ${DEMO_API_KEY}`, 'signature-input': 'sig1=()' },
    ];
    for (const headers of attempts) {
      const response = await postJson(
        `${dataPlaneUrl}/v1/inference`,
        { model: DEMO_MODEL, messages },
        headers,
      );
      expect(response.status).toBe(401);
    }
    const forbidden = await postJson(
      `${dataPlaneUrl}/v1/inference`,
      { model: 'no-such-model', messages },
      { authorization: `Bearer ${DEMO_API_KEY}` },
    );
    expect(forbidden.status).toBe(404);

    const { dataPlane, controlPlane, workspace } = stack;
    // Files: the data plane's cache dir (snapshot cache, and its outbox by default) and the control plane's
    // state dir (last good snapshot, embedded audit store).
    const logs = {
      'data plane': [...dataPlane.process.lines, ...dataPlane.process.errorLines],
      'control plane': [...controlPlane.process.lines, ...controlPlane.process.errorLines],
    };
    // The captures keep 5 000 lines per stream: fewer means nothing was dropped before this check.
    expect(dataPlane.process.lines.length).toBeLessThan(5_000);
    expect(logs['data plane'].some((line) => line.includes('rk_demo01'))).toBe(true);
    for (const [name, lines] of Object.entries(logs)) {
      expect(
        lines.filter((line) => line.includes(DEMO_KEY_SECRET)),
        `${name} log lines`,
      ).toEqual([]);
    }
    expect(await scrape(dataPlaneUrl)).not.toContain(DEMO_KEY_SECRET);
    expect(await scrape(controlPlane.httpUrl)).not.toContain(DEMO_KEY_SECRET);
    expect(filesUnder(workspace.dpCacheDir)).not.toEqual([]);
    expect(filesContaining(workspace.dpCacheDir, DEMO_KEY_SECRET)).toEqual([]);
    expect(filesUnder(workspace.cpStateDir)).not.toEqual([]);
    expect(filesContaining(workspace.cpStateDir, DEMO_KEY_SECRET)).toEqual([]);
  });

  it('keeps serving inference when the control plane is killed', async () => {
    const version = await policyVersion();
    await stack.controlPlane.process.stop({ signal: 'SIGKILL' });
    await eventually(async () => {
      const { status, detail } = await readiness(dataPlaneUrl);
      return status === 200 && !detail.controlPlane.connected ? true : undefined;
    });
    const answers = await runConcurrently(20, 4, async () => {
      const response = await postJson(
        `${dataPlaneUrl}/v1/inference`,
        { model: DEMO_MODEL, messages, max_output_tokens: 2 },
        { authorization: `Bearer ${DEMO_API_KEY}` },
      );
      return { status: response.status, body: inferenceResponse(await response.json()) };
    });
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body.output?.content).toBe(completionText(2));
      expect(answer.body.router?.policyVersion.toString()).toBe(version);
    }
    const streamed = await postJson(
      `${dataPlaneUrl}/v1/chat/completions`,
      { model: DEMO_MODEL, messages, max_tokens: 2, stream: true },
      { authorization: `Bearer ${DEMO_API_KEY}` },
    );
    expect(streamed.status).toBe(200);
    expect(parseSse(await streamed.text()).data.at(-1)).toBe('[DONE]');
  });
});

async function policyVersion(): Promise<string | undefined> {
  const { status, detail } = await readiness(dataPlaneUrl);
  return status === 200 ? detail.policy?.version : undefined;
}
