// The official OpenAI SDK as a wire-format oracle: if it parses our responses, so will real clients.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { startTestBackend, TEST_MESSAGES } from './real-backend.test-support.js';
import { completionText, countPromptTokens } from './token-accounting.js';

const promptTokens = countPromptTokens(TEST_MESSAGES);
const messages = TEST_MESSAGES.map((message) => ({ role: 'user' as const, content: message.content }));

function client(baseURL: string): OpenAI {
  return new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: 'sk-test', maxRetries: 0 });
}

describe('OpenAI SDK against the mock', () => {
  it('parses a JSON completion', async () => {
    await using test = await startTestBackend({ faults: { outputTokens: 6 } });
    const completion = await client(test.backend.url).chat.completions.create({
      model: 'mock-model',
      messages,
      max_completion_tokens: 4,
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]?.message).toMatchObject({ role: 'assistant', content: completionText(4) });
    expect(completion.choices[0]?.finish_reason).toBe('length');
    expect(completion.usage).toEqual({
      prompt_tokens: promptTokens,
      completion_tokens: 4,
      total_tokens: promptTokens + 4,
    });
  });

  it('accumulates a stream into the same completion, with usage', async () => {
    await using test = await startTestBackend({ faults: { outputTokens: 5 } });
    const stream = client(test.backend.url).chat.completions.stream({
      model: 'mock-model',
      messages,
      stream_options: { include_usage: true },
    });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe(completionText(5));
    expect(final.choices[0]?.finish_reason).toBe('stop');
    expect(final.usage).toEqual({
      prompt_tokens: promptTokens,
      completion_tokens: 5,
      total_tokens: promptTokens + 5,
    });
  });

  it('surfaces a truncated stream as an error', async () => {
    await using test = await startTestBackend({ faults: { outputTokens: 5 } });
    const consume = async () => {
      const stream = await client(test.backend.url).chat.completions.create(
        { model: 'mock-model', messages, stream: true },
        { headers: { 'x-mock-truncate-after': '2' } },
      );
      let content = '';
      for await (const chunk of stream) content += chunk.choices[0]?.delta.content ?? '';
      return content;
    };
    await expect(consume()).rejects.toThrow();
  });

  it('maps forced statuses onto the SDK error classes', async () => {
    await using test = await startTestBackend();
    const attempt = client(test.backend.url).chat.completions.create(
      { model: 'mock-model', messages },
      { headers: { 'x-mock-status': '429' } },
    );
    await expect(attempt).rejects.toBeInstanceOf(OpenAI.RateLimitError);
    await expect(attempt).rejects.toMatchObject({
      status: 429,
      code: 'mock_forced_status',
      type: 'rate_limit_error',
    });
  });

  it('lists models', async () => {
    await using test = await startTestBackend({ models: ['m1', 'm2'] });
    const ids: string[] = [];
    for await (const model of client(test.backend.url).models.list()) ids.push(model.id);
    expect(ids).toEqual(['m1', 'm2']);
  });
});
