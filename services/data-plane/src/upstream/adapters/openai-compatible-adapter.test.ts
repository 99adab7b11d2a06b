import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { InferenceRequestSchema, OutputLimitParam } from '@api-router/contracts';
import { openAICompatibleAdapter as adapter } from './openai-compatible-adapter.js';
import type { BodyTarget } from './provider-adapter.js';

const target = (upstreamModel: string, outputLimitParam = OutputLimitParam.MAX_TOKENS): BodyTarget => ({
  upstreamModel,
  backend: { outputLimitParam },
});

describe('openAICompatibleAdapter', () => {
  it('maps an inference request to an OpenAI chat body', () => {
    const request = create(InferenceRequestSchema, {
      model: 'demo-chat',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
      maxOutputTokens: 5,
      temperature: 0.2,
      topP: 0.9,
      stop: ['\n'],
      metadata: { team: 'a' },
      stream: true,
    });
    expect(adapter.chatBodyFromInference(request, target('mock-model'))).toEqual({
      model: 'mock-model',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
      max_tokens: 5,
      temperature: 0.2,
      top_p: 0.9,
      stop: ['\n'],
      stream: true,
      stream_options: { include_usage: true },
    });
    const minimal = create(InferenceRequestSchema, {
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(adapter.chatBodyFromInference(minimal, target('up'))).toEqual({
      model: 'up',
      messages: [{ role: 'user', content: 'x' }],
    });
  });

  it('passes an OpenAI body through with the upstream model, asking streams for usage', () => {
    const body = { model: 'demo-chat', messages: [], tools: [{ type: 'function' }], stream: true };
    expect(adapter.chatBodyFromOpenAI(body, target('mock-model'), undefined)).toEqual({
      ...body,
      model: 'mock-model',
      stream_options: { include_usage: true },
    });
    expect(adapter.chatBodyFromOpenAI({ model: 'a', messages: [] }, target('b'), undefined)).toEqual({
      model: 'b',
      messages: [],
    });
  });

  it('puts an inference output limit in the field the backend takes', () => {
    const request = create(InferenceRequestSchema, {
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      maxOutputTokens: 7,
    });
    const completion = adapter.chatBodyFromInference(
      request,
      target('o3', OutputLimitParam.MAX_COMPLETION_TOKENS),
    );
    expect(completion).toMatchObject({ max_completion_tokens: 7 });
    expect(completion).not.toHaveProperty('max_tokens');
    // A snapshot from before the setting: max_tokens, as always.
    const legacy = adapter.chatBodyFromInference(request, target('up', OutputLimitParam.UNSPECIFIED));
    expect(legacy).toMatchObject({ max_tokens: 7 });
    expect(legacy).not.toHaveProperty('max_completion_tokens');
  });

  it.each([
    [OutputLimitParam.UNSPECIFIED, 'max_tokens', 'max_completion_tokens'],
    [OutputLimitParam.MAX_TOKENS, 'max_tokens', 'max_completion_tokens'],
    [OutputLimitParam.MAX_COMPLETION_TOKENS, 'max_completion_tokens', 'max_tokens'],
  ] as const)('imposes an output cap in the field the backend takes (%i: %s)', (param, field, other) => {
    const body = { model: 'demo-chat', messages: [] };
    expect(adapter.chatBodyFromOpenAI(body, target('up', param), 64)).toEqual({
      model: 'up',
      messages: [],
      [field]: 64,
    });
    // Limit fields the client sent null (no limit) leave one limit, in the backend's field.
    const nulls = { ...body, max_tokens: null, max_completion_tokens: null };
    const wire = adapter.chatBodyFromOpenAI(nulls, target('up', param), 64);
    expect(wire).toMatchObject({ [field]: 64 });
    expect(wire).not.toHaveProperty(other);
    expect(nulls).toEqual({ ...body, max_tokens: null, max_completion_tokens: null });
  });

  it("leaves the client's own output limits as sent, whatever the backend's field", () => {
    const reasoning = target('o3', OutputLimitParam.MAX_COMPLETION_TOKENS);
    const legacy = target('llama', OutputLimitParam.MAX_TOKENS);
    const withMaxTokens = { model: 'a', messages: [], max_tokens: 5 };
    expect(adapter.chatBodyFromOpenAI(withMaxTokens, reasoning, undefined)).toEqual({
      ...withMaxTokens,
      model: 'o3',
    });
    const withCompletion = { model: 'a', messages: [], max_completion_tokens: 5 };
    expect(adapter.chatBodyFromOpenAI(withCompletion, legacy, undefined)).toEqual({
      ...withCompletion,
      model: 'llama',
    });
  });

  it('reads completions and usage', () => {
    const completion = adapter.parseCompletion({
      id: 'chatcmpl-1',
      model: 'mock-model',
      choices: [{ index: 0, message: { role: 'assistant', content: 'tok0 tok1' }, finish_reason: 'length' }],
      usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
    });
    expect(completion).toEqual({
      id: 'chatcmpl-1',
      model: 'mock-model',
      role: 'assistant',
      content: 'tok0 tok1',
      finishReason: 'length',
      usage: { inputTokens: 3, outputTokens: 2 },
    });
    expect(adapter.parseCompletion({ choices: [] })).toBeUndefined();
    expect(adapter.parseCompletion('nope')).toBeUndefined();
  });

  it('reads token counts no store could charge as no usage (the reservation is charged instead)', () => {
    const withUsage = (usage: unknown) =>
      adapter.parseCompletion({
        choices: [{ index: 0, message: { role: 'assistant', content: 'x' }, finish_reason: 'stop' }],
        usage,
      })?.usage;
    expect(withUsage({ prompt_tokens: 0, completion_tokens: 0 })).toEqual({
      inputTokens: 0,
      outputTokens: 0,
    });
    for (const [input, output] of [
      [2.5, 1],
      [3, -1],
      ['3', 1],
      [3, Number.MAX_SAFE_INTEGER + 2],
      [Number.NaN, 1],
    ]) {
      expect(withUsage({ prompt_tokens: input, completion_tokens: output })).toBeUndefined();
    }
  });

  it('reads stream chunks: content, finish, usage-only, end marker', () => {
    expect(
      adapter.parseStreamData('{"id":"c","model":"m","choices":[{"delta":{"content":" tok1"}}]}'),
    ).toMatchObject({
      id: 'c',
      contentDelta: ' tok1',
      usageOnly: false,
    });
    expect(adapter.parseStreamData('{"choices":[{"delta":{},"finish_reason":"stop"}]}')).toMatchObject({
      contentDelta: '',
      finishReason: 'stop',
    });
    expect(
      adapter.parseStreamData(
        '{"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":7,"total_tokens":11}}',
      ),
    ).toMatchObject({ usageOnly: true, usage: { inputTokens: 4, outputTokens: 7 } });
    expect(adapter.parseStreamData('not json')).toBeUndefined();
    expect(adapter.parseStreamData('{"choices":[{"delta":{"content":"x"}}]}')).toMatchObject({
      upstreamError: false,
    });
    expect(adapter.parseStreamData('{"error":{"message":"engine died"}}')).toMatchObject({
      upstreamError: true,
    });
    expect(adapter.parseStreamData('{"object":"error","message":"bad","code":400}')).toMatchObject({
      upstreamError: true,
    });
    // Output other than text counts for the time to first token: tool calls, refusals, reasoning, and any
    // choice, not only the first (n > 1); a role-only or finish chunk does not.
    for (const generating of [
      '{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}}]}',
      '{"choices":[{"delta":{"refusal":"I cannot"}}]}',
      '{"choices":[{"delta":{"reasoning_content":"Let me think"}}]}',
      '{"choices":[{"index":0,"delta":{}},{"index":1,"delta":{"content":"b"}}]}',
      '{"choices":[{"delta":{"content":" tok1"}}]}',
    ]) {
      expect(adapter.parseStreamData(generating), generating).toMatchObject({ generatesOutput: true });
    }
    for (const silent of [
      '{"choices":[{"delta":{"role":"assistant","content":""}}]}',
      '{"choices":[{"delta":{"tool_calls":[]},"finish_reason":"stop"}]}',
      '{"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":7,"total_tokens":11}}',
    ]) {
      expect(adapter.parseStreamData(silent), silent).toMatchObject({ generatesOutput: false });
    }
    expect(adapter.isStreamEnd('[DONE]')).toBe(true);
    expect(adapter.isStreamEnd('{}')).toBe(false);
  });
});
