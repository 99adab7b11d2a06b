import { describe, expect, it } from 'vitest';
import { openAICompatibleAdapter as adapter } from './openai-compatible-adapter.js';

// A backend that ignores `stream: true` answers a whole chat.completion: the adapter rewrites it as the
// chat.completion.chunk events (and end marker) the backend would have streamed.

/** The data of each event of an SSE text (every event here is one `data:` line). */
function eventData(text: string): string[] {
  expect(text.endsWith('\n\n')).toBe(true);
  return text
    .slice(0, -2)
    .split('\n\n')
    .map((event) => {
      expect(event.startsWith('data: ')).toBe(true);
      return event.slice('data: '.length);
    });
}

const usage = {
  prompt_tokens: 12,
  completion_tokens: 7,
  total_tokens: 19,
  completion_tokens_details: { reasoning_tokens: 0 },
};

describe('openAICompatibleAdapter.completionAsStream', () => {
  it('streams each choice as role, content, finish (with logprobs), then usage, then [DONE]', () => {
    const logprobs = { content: [{ token: 'Hi', logprob: -0.1, bytes: [72, 105], top_logprobs: [] }] };
    const text = adapter.completionAsStream({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'gpt-x',
      service_tier: 'default',
      system_fingerprint: 'fp_1',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hi', refusal: null },
          logprobs,
          finish_reason: 'stop',
        },
        { index: 1, message: { role: 'assistant', content: 'Yo' }, logprobs: null, finish_reason: 'length' },
      ],
      usage,
    });
    expect(text).toBeDefined();
    const data = eventData(text!);
    expect(data.at(-1)).toBe('[DONE]');
    const head = {
      id: 'chatcmpl-1',
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model: 'gpt-x',
      service_tier: 'default',
      system_fingerprint: 'fp_1',
    };
    expect(data.slice(0, -1).map((event) => JSON.parse(event) as unknown)).toEqual([
      { ...head, choices: [{ index: 0, delta: { role: 'assistant' }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: {}, finish_reason: 'stop', logprobs }] },
      { ...head, choices: [{ index: 1, delta: { role: 'assistant' }, finish_reason: null }] },
      { ...head, choices: [{ index: 1, delta: { content: 'Yo' }, finish_reason: null }] },
      { ...head, choices: [{ index: 1, delta: {}, finish_reason: 'length' }] },
      { ...head, choices: [], usage },
    ]);
    // The adapter's own stream reader sees what a real stream would give it.
    const chunks = data.slice(0, -1).map((event) => adapter.parseStreamData(event)!);
    expect(chunks.map((chunk) => chunk.generatesOutput)).toEqual([
      false,
      true,
      false,
      false,
      true,
      false,
      false,
    ]);
    expect(chunks.at(-1)).toMatchObject({ usageOnly: true, usage: { inputTokens: 12, outputTokens: 7 } });
    expect(adapter.isStreamEnd(data.at(-1)!)).toBe(true);
  });

  it('streams tool calls with their index, a refusal and reasoning, and no usage chunk without usage', () => {
    const toolCalls = [
      { id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
      { id: 'call_b', type: 'function', function: { name: 'time', arguments: '{}' } },
    ];
    const text = adapter.completionAsStream({
      id: 'chatcmpl-2',
      created: 1,
      model: 'm',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: null,
            reasoning_content: 'thinking',
            refusal: 'I would rather not say more.',
            tool_calls: toolCalls,
          },
          finish_reason: 'tool_calls',
        },
      ],
    });
    const chunks = eventData(text!)
      .slice(0, -1)
      .map((event) => (JSON.parse(event) as { choices: unknown[] }).choices);
    expect(chunks).toEqual([
      [{ index: 0, delta: { role: 'assistant' }, finish_reason: null }],
      [{ index: 0, delta: { reasoning_content: 'thinking' }, finish_reason: null }],
      [{ index: 0, delta: { refusal: 'I would rather not say more.' }, finish_reason: null }],
      [
        {
          index: 0,
          delta: { tool_calls: toolCalls.map((call, index) => ({ index, ...call })) },
          finish_reason: null,
        },
      ],
      [{ index: 0, delta: {}, finish_reason: 'tool_calls' }],
    ]);
  });

  it('is undefined for a body that is not a completion, as parseCompletion is', () => {
    for (const json of [
      { error: { message: 'overloaded', type: 'server_error' } },
      { object: 'error', message: 'engine died' },
      { choices: [] },
      'nope',
      null,
    ]) {
      expect(adapter.parseCompletion(json)).toBeUndefined();
      expect(adapter.completionAsStream(json)).toBeUndefined();
    }
  });
});
