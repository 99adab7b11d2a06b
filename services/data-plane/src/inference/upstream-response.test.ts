import { RouterError } from '@api-router/errors';
import type { RuntimeTarget } from '@api-router/policy';
import { describe, expect, it } from 'vitest';
import { openAICompatibleAdapter } from '../upstream/adapters/openai-compatible-adapter.js';
import type { InferenceHandlerDeps, InferenceSession } from './inference-session.js';
import { readCompletion } from './upstream-response.js';

const deps = { adapterFor: () => openAICompatibleAdapter } as unknown as InferenceHandlerDeps;
const session = () => ({ state: { usage: undefined } }) as unknown as InferenceSession;
const whole = (text: string) => ({
  kind: 'whole' as const,
  body: Buffer.from(text),
  target: { backend: { id: 'a' } } as unknown as RuntimeTarget,
});

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
});
