import { describe, expect, it } from 'vitest';
import { RouterError } from '@api-router/errors';
import { openAICompatibleAdapter as adapter } from '../upstream/adapters/openai-compatible-adapter.js';
import { completionFromEventStream } from './event-stream-completion.js';

// A backend that streams although the request did not ask to (some servers stream by default or ignore
// `stream: false`): the stream is assembled into the one chat.completion the client asked for, as the
// OpenAI SDKs' finalChatCompletion() does.

type Json = Record<string, unknown>;

const head = { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'm' };

/** The SSE text of these chunks, then `data: [DONE]` unless `done` is false. */
function sse(chunks: readonly Json[], done = true): Buffer {
  const events = chunks.map((chunk) => `data: ${JSON.stringify({ ...head, ...chunk })}\n\n`);
  return Buffer.from(events.join('') + (done ? 'data: [DONE]\n\n' : ''), 'utf8');
}

/** One chunk of choice `index` with this delta (and finish reason). */
function delta(fields: Json, index = 0, finishReason: string | null = null, extra: Json = {}): Json {
  return { choices: [{ index, delta: fields, finish_reason: finishReason, ...extra }] };
}

function assemble(body: Buffer): Json {
  const json = completionFromEventStream(body, adapter);
  expect(adapter.parseCompletion(json)).toBeDefined();
  return json as Json;
}

const usage = { prompt_tokens: 12, completion_tokens: 7, total_tokens: 19 };

describe('completionFromEventStream (OpenAI-compatible streams)', () => {
  it('concatenates the content and takes the role, finish reason, head fields and usage chunk', () => {
    const body = sse([
      { ...delta({ role: 'assistant', content: '' }), system_fingerprint: 'fp_1', usage: null },
      { ...delta({ content: 'Hel' }), system_fingerprint: 'fp_1', usage: null },
      { ...delta({ content: 'lo' }), system_fingerprint: 'fp_1', usage: null },
      { ...delta({}, 0, 'stop'), system_fingerprint: 'fp_1', usage: null },
      { choices: [], system_fingerprint: 'fp_1', service_tier: 'default', usage },
    ]);
    expect(assemble(body)).toEqual({
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'm',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hello', refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage,
      service_tier: 'default',
      system_fingerprint: 'fp_1',
    });
    expect(adapter.parseCompletion(assemble(body))).toEqual({
      id: 'chatcmpl-1',
      model: 'm',
      role: 'assistant',
      content: 'Hello',
      finishReason: 'stop',
      usage: { inputTokens: 12, outputTokens: 7 },
    });
  });

  it('accumulates tool calls by their index, arguments in pieces, content null when none came', () => {
    const body = sse([
      delta({ role: 'assistant', content: null }),
      delta({
        tool_calls: [
          { index: 0, id: 'call_a', type: 'function', function: { name: 'weather', arguments: '' } },
        ],
      }),
      delta({ tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] }),
      delta({
        tool_calls: [
          { index: 1, id: 'call_b', type: 'function', function: { name: 'time', arguments: '{"zo' } },
        ],
      }),
      // Interleaved: a piece of the first call after the second began.
      delta({ tool_calls: [{ index: 0, function: { arguments: 'ty":"Oslo"}' } }] }),
      delta({ tool_calls: [{ index: 1, function: { arguments: 'ne":"CET"}' } }] }),
      delta({}, 0, 'tool_calls'),
    ]);
    const choices = assemble(body).choices as Json[];
    expect(choices).toEqual([
      {
        index: 0,
        message: {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: [
            { id: 'call_a', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } },
            { id: 'call_b', type: 'function', function: { name: 'time', arguments: '{"zone":"CET"}' } },
          ],
        },
        logprobs: null,
        finish_reason: 'tool_calls',
      },
    ]);
  });

  it('assembles a legacy function_call', () => {
    const body = sse([
      delta({ role: 'assistant', function_call: { name: 'weather', arguments: '' } }),
      delta({ function_call: { arguments: '{"city":' } }),
      delta({ function_call: { arguments: '"Oslo"}' } }),
      delta({}, 0, 'function_call'),
    ]);
    const [choice] = assemble(body).choices as Json[];
    expect(choice?.message).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      function_call: { name: 'weather', arguments: '{"city":"Oslo"}' },
    });
  });

  it('keeps two choices apart, interleaved, in index order', () => {
    const body = sse([
      delta({ role: 'assistant', content: '' }, 1),
      delta({ role: 'assistant', content: '' }, 0),
      delta({ content: 'B1' }, 1),
      delta({ content: 'A1' }, 0),
      delta({ content: ' B2' }, 1),
      delta({ content: ' A2' }, 0),
      delta({}, 1, 'length'),
      delta({}, 0, 'stop'),
    ]);
    const choices = assemble(body).choices as { index: number; message: Json; finish_reason: string }[];
    expect(
      choices.map(({ index, message, finish_reason }) => [index, message.content, finish_reason]),
    ).toEqual([
      [0, 'A1 A2', 'stop'],
      [1, 'B1 B2', 'length'],
    ]);
  });

  it("concatenates the logprobs' token arrays", () => {
    const token = (text: string) => ({
      token: text,
      logprob: -0.5,
      bytes: [...Buffer.from(text)],
      top_logprobs: [],
    });
    const body = sse([
      delta({ role: 'assistant', content: '' }, 0, null, { logprobs: { content: [], refusal: null } }),
      delta({ content: 'Hi' }, 0, null, { logprobs: { content: [token('Hi')], refusal: null } }),
      delta({ content: ' there' }, 0, null, { logprobs: { content: [token(' there')], refusal: null } }),
      delta({}, 0, 'stop', { logprobs: null }),
    ]);
    const [choice] = assemble(body).choices as Json[];
    expect(choice?.logprobs).toEqual({ content: [token('Hi'), token(' there')], refusal: null });
  });

  it('concatenates a refusal and reasoning, and keeps the fields it does not know as streamed', () => {
    const body = sse([
      delta({ role: 'assistant', content: '' }),
      delta({ reasoning_content: 'The user ' }),
      delta({ reasoning_content: 'asks for harm.' }),
      delta({ refusal: "I can't " }),
      delta({ refusal: 'help with that.' }),
      delta({}, 0, 'stop', { stop_reason: null }),
      delta({ annotations: [] }, 0, null, { stop_reason: 'eos' }),
    ]);
    const [choice] = assemble(body).choices as Json[];
    expect(choice).toEqual({
      index: 0,
      message: {
        role: 'assistant',
        content: null,
        refusal: "I can't help with that.",
        reasoning_content: 'The user asks for harm.',
        annotations: [],
      },
      logprobs: null,
      finish_reason: 'stop',
      stop_reason: 'eos',
    });
  });

  it('reads events split and ended any way: CRLF, comments, an end marker without its blank line', () => {
    const text =
      ': keep-alive\r\n\r\n' +
      `data: ${JSON.stringify({ ...head, ...delta({ role: 'assistant', content: 'Hi' }) })}\r\n\r\n` +
      `data: ${JSON.stringify({ ...head, ...delta({}, 0, 'stop') })}\n\n` +
      'data: [DONE]\n';
    expect(assemble(Buffer.from(text)).choices).toMatchObject([{ message: { content: 'Hi' } }]);
  });

  it('gives back the completion a backend that ignored `stream: true` would be streamed as', () => {
    const completion = {
      id: 'chatcmpl-9',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: 'Hi',
            refusal: null,
            tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'f', arguments: '{}' } }],
          },
          logprobs: null,
          finish_reason: 'tool_calls',
        },
      ],
      usage,
      system_fingerprint: 'fp_9',
    };
    const body = Buffer.from(adapter.completionAsStream(completion)!, 'utf8');
    expect(assemble(body)).toEqual(completion);
  });

  describe('a stream that does not end cleanly is a 502 upstream_error, the backend words in its cause', () => {
    const fails = (body: Buffer): RouterError => {
      try {
        completionFromEventStream(body, adapter);
      } catch (error: unknown) {
        expect(error).toBeInstanceOf(RouterError);
        expect((error as RouterError).code).toBe('upstream_error');
        return error as RouterError;
      }
      throw new Error('the stream was accepted');
    };

    it('cut short: no [DONE]', () => {
      const error = fails(
        sse([delta({ role: 'assistant', content: 'Hel' }), delta({ content: 'lo' })], false),
      );
      expect(error.message).toBe('The model backend stream ended early.');
      expect(String((error.cause as Error).message)).toContain('"content":"lo"');
    });

    it('cut short in an event, or empty', () => {
      fails(Buffer.from(`data: ${JSON.stringify({ ...head, ...delta({ content: 'Hi' }) })}\n\ndata: [DO`));
      fails(Buffer.alloc(0));
    });

    it.each([
      ['OpenAI', { error: { message: 'model is overloaded', type: 'server_error' } }],
      ['vLLM', { object: 'error', message: 'engine died', type: 'InternalServerError', code: 500 }],
    ])('an error event (%s shape), even with [DONE] after it', (_shape, event) => {
      const body = Buffer.concat([
        sse([delta({ role: 'assistant', content: 'Hi' })], false),
        Buffer.from(`data: ${JSON.stringify(event)}\n\ndata: [DONE]\n\n`),
      ]);
      const error = fails(body);
      expect(error.message).toBe('The model backend reported an error in its stream.');
      expect(String((error.cause as Error).message)).toContain(JSON.stringify(event));
    });
  });

  it('holds no completion when no chunk had choices, which parseCompletion then refuses', () => {
    const json = completionFromEventStream(sse([{ choices: [], usage }]), adapter);
    expect(adapter.parseCompletion(json)).toBeUndefined();
    expect(adapter.parseCompletion(completionFromEventStream(Buffer.from('data: [DONE]\n\n'), adapter))).toBe(
      undefined,
    );
  });

  it('ignores what follows the end marker', () => {
    const body = Buffer.concat([
      sse([delta({ role: 'assistant', content: 'Hi' }), delta({}, 0, 'stop')]),
      Buffer.from(`data: ${JSON.stringify({ error: { message: 'late' } })}\n\n`),
    ]);
    expect(assemble(body).choices).toMatchObject([{ message: { content: 'Hi' }, finish_reason: 'stop' }]);
  });
});
