import { describe, expect, it } from 'vitest';
import {
  createBlockingSleep,
  parseChunks,
  postChat,
  readAll,
  sseData,
  startTestBackend,
  TEST_MESSAGES,
} from './real-backend.test-support.js';
import { countPromptTokens } from './token-accounting.js';

const promptTokens = countPromptTokens(TEST_MESSAGES);

describe('SSE streams', () => {
  it('sends the OpenAI chunk sequence: role, content pieces, finish, usage, [DONE]', async () => {
    await using test = await startTestBackend({ faults: { outputTokens: 4 } });
    const response = await postChat(test.backend, { stream: true, stream_options: { include_usage: true } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('x-mock-backend-id')).toBe('test-backend');
    const { text, failed } = await readAll(response);
    expect(failed).toBe(false);
    const data = sseData(text);
    expect(data.at(-1)).toBe('[DONE]');
    const chunks = parseChunks(data.slice(0, -1));
    expect(chunks).toHaveLength(1 + 4 + 1 + 1);
    for (const chunk of chunks) {
      expect(Object.keys(chunk).sort()).toEqual([
        'choices',
        'created',
        'id',
        'model',
        'object',
        'system_fingerprint',
        'usage',
      ]);
      expect(chunk).toMatchObject({
        id: chunks[0]!.id,
        object: 'chat.completion.chunk',
        model: 'mock-model',
      });
      expect(Number.isInteger(chunk.created)).toBe(true);
    }
    expect(chunks[0]!.choices).toEqual([
      { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
    ]);
    expect(chunks.slice(1, 5).map((chunk) => chunk.choices[0]!.delta)).toEqual([
      { content: 'tok0' },
      { content: ' tok1' },
      { content: ' tok2' },
      { content: ' tok3' },
    ]);
    expect(chunks.slice(0, 6).every((chunk) => chunk.usage === null)).toBe(true);
    expect(chunks[5]!.choices).toEqual([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]);
    expect(chunks[6]!.choices).toEqual([]);
    expect(chunks[6]!.usage).toEqual({
      prompt_tokens: promptTokens,
      completion_tokens: 4,
      total_tokens: promptTokens + 4,
    });
  });

  it('always sends the usage chunk, even without include_usage (other chunks then carry no usage key)', async () => {
    await using test = await startTestBackend({ faults: { outputTokens: 2 } });
    const { text } = await readAll(await postChat(test.backend, { stream: true, max_tokens: 1 }));
    const chunks = parseChunks(sseData(text).slice(0, -1));
    expect(chunks.slice(0, -1).every((chunk) => !('usage' in chunk))).toBe(true);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('length');
    expect(chunks.at(-1)!.usage).toEqual({
      prompt_tokens: promptTokens,
      completion_tokens: 1,
      total_tokens: promptTokens + 1,
    });
  });

  it('completes a long unpaced stream (larger than the socket buffer)', async () => {
    await using test = await startTestBackend({ faults: { outputTokens: 2000 } });
    const { text, failed } = await readAll(await postChat(test.backend, { stream: true, max_tokens: 2000 }));
    expect(failed).toBe(false);
    const data = sseData(text);
    expect(data.at(-1)).toBe('[DONE]');
    expect(data).toHaveLength(1 + 2000 + 1 + 1 + 1);
  });

  it('drops the connection after N content chunks with x-mock-truncate-after: no usage, no [DONE]', async () => {
    await using test = await startTestBackend({ faults: { outputTokens: 10 } });
    const response = await postChat(test.backend, { stream: true }, { 'x-mock-truncate-after': '2' });
    const { text, failed } = await readAll(response);
    expect(failed).toBe(true);
    const data = sseData(text);
    expect(data).not.toContain('[DONE]');
    expect(parseChunks(data).map((chunk) => chunk.choices[0]?.delta.content)).toEqual(['', 'tok0', ' tok1']);
  });

  it('paces the stream: first-byte delay once, chunk delay between content chunks', async () => {
    await using test = await startTestBackend();
    const headers = {
      'x-mock-first-byte-delay-ms': '300',
      'x-mock-chunk-delay-ms': '20',
      'x-mock-output-tokens': '3',
    };
    const { text, failed } = await readAll(await postChat(test.backend, { stream: true }, headers));
    expect(failed).toBe(false);
    expect(sseData(text).at(-1)).toBe('[DONE]');
    expect(test.sleeps).toEqual([300, 20, 20]);
  });

  it.each([
    ['mid-stream', { stream: true }, { 'x-mock-chunk-delay-ms': '50' }],
    ['during the latency', {}, { 'x-mock-latency-ms': '5000' }],
  ])('stops work when the client goes away %s, without logging', async (_case, body, headers) => {
    const blocking = createBlockingSleep();
    await using test = await startTestBackend({ faults: { outputTokens: 5 } }, blocking.sleep);
    const client = new AbortController();
    const responding = postChat(test.backend, body, headers, client.signal).then(readAll);
    await blocking.started;
    client.abort();
    // Depending on timing the abort fails the fetch itself or the body read; either way it must not complete.
    const outcome = await responding.then(
      ({ failed }) => (failed ? 'failed' : 'completed'),
      () => 'failed',
    );
    expect(outcome).toBe('failed');
    await blocking.aborted; // the server noticed the disconnect
    await new Promise((resolve) => setImmediate(resolve)); // and the rejection reached the handlers
    await test.backend.close();
    expect(test.logLines.filter((line) => (line.level as number) >= 40)).toEqual([]);
  });
});
