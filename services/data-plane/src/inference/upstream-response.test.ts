import { RouterError } from '@api-router/errors';
import type { RuntimeTarget } from '@api-router/policy';
import { describe, expect, it } from 'vitest';
import { openAICompatibleAdapter } from '../upstream/adapters/openai-compatible-adapter.js';
import type { InferenceHandlerDeps, InferenceSession } from './inference-session.js';
import { readCompletion } from './upstream-response.js';

const deps = { adapterFor: () => openAICompatibleAdapter } as unknown as InferenceHandlerDeps;
const session = () => ({ state: { usage: undefined } }) as unknown as InferenceSession;
const whole = (text: string, eventStream = false) => ({
  kind: 'whole' as const,
  body: Buffer.from(text),
  eventStream,
  target: { backend: { id: 'a' } } as unknown as RuntimeTarget,
});

/** A body read whole from a response labelled text/event-stream (call-upstream.ts marks it so). */
const streamed = (text: string) => whole(text, true);

const chunk = (fields: Record<string, unknown>) =>
  `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', ...fields })}\n\n`;

describe('readCompletion', () => {
  it('reads a completion and its usage', () => {
    const read = session();
    const { completion } = readCompletion(
      deps,
      read,
      whole(
        '{"id":"c","model":"m","choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],' +
          '"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}',
      ),
    );
    expect(completion.content).toBe('hi');
    expect(read.state.usage).toEqual({ inputTokens: 3, outputTokens: 1 });
  });

  // A 200 whose body is an error object or not JSON: the client gets a 502 without the backend's words
  // (they may name internals), but the operator needs them: the start of the body is the error's cause,
  // which the error handler logs.
  it('answers a 200 that is no completion with a 502 whose logged cause holds the start of the body', () => {
    for (const body of ['{"error":{"message":"engine overloaded"}}', 'Bad Gateway from the proxy']) {
      let thrown: unknown;
      try {
        readCompletion(deps, session(), whole(body));
      } catch (error: unknown) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(RouterError);
      expect(thrown).toMatchObject({ code: 'upstream_error' });
      expect(String((thrown as RouterError).cause)).toContain(body);
    }
  });

  // A backend that streamed though the request did not ask to: the client gets the completion the stream
  // adds up to, as JSON, and its usage is the request's.
  it('assembles a stream into the completion it adds up to, whose JSON is then the answer', () => {
    const read = session();
    const { raw, completion } = readCompletion(
      deps,
      read,
      streamed(
        chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: 'h' }, finish_reason: null }] }) +
          chunk({ choices: [{ index: 0, delta: { content: 'i' }, finish_reason: 'stop' }] }) +
          chunk({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } }) +
          'data: [DONE]\n\n',
      ),
    );
    expect(completion).toMatchObject({ id: 'c', content: 'hi', finishReason: 'stop' });
    expect(read.state.usage).toEqual({ inputTokens: 3, outputTokens: 1 });
    expect(JSON.parse(raw.toString('utf8'))).toEqual({
      id: 'c',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'hi', refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
    });
  });

  it('answers a stream that holds no completion with a 502 whose logged cause holds the stream', () => {
    const body =
      chunk({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 0 } }) + 'data: [DONE]\n\n';
    expect(() => readCompletion(deps, session(), streamed(body))).toThrow(
      expect.objectContaining({ code: 'upstream_error', cause: new Error(`backend body: ${body}`) }),
    );
  });

  it('reads an unmarked body as JSON, even one that looks like a stream', () => {
    expect(() => readCompletion(deps, session(), whole(chunk({ choices: [] }) + 'data: [DONE]\n\n'))).toThrow(
      'unreadable completion',
    );
  });
});
