import { describe, expect, it } from 'vitest';
import { RouterError } from '@api-router/errors';
import { parseInferenceRequest } from './parse-inference-request.js';

const valid = { model: 'demo-chat', messages: [{ role: 'user', content: 'hi' }] };

function messageOf(json: unknown): string {
  try {
    parseInferenceRequest(json);
  } catch (error: unknown) {
    if (error instanceof RouterError && error.code === 'invalid_request') return error.message;
    throw error;
  }
  throw new Error('expected invalid_request');
}

describe('parseInferenceRequest', () => {
  it('reads snake_case JSON into the proto message', () => {
    const request = parseInferenceRequest({
      ...valid,
      max_output_tokens: 8,
      temperature: 0.5,
      top_p: 1,
      stop: ['x'],
      metadata: { team: 'a' },
      stream: true,
    });
    expect(request).toMatchObject({
      model: 'demo-chat',
      maxOutputTokens: 8,
      temperature: 0.5,
      topP: 1,
      stream: true,
    });
    expect(request.metadata).toEqual({ team: 'a' });
  });

  it.each([
    [[], 'The body must be a JSON object.'],
    [{ ...valid, tools: [] }, 'does not match router.v1.InferenceRequest'],
    [{ ...valid, messages: 'hi' }, 'does not match router.v1.InferenceRequest'],
    [{ messages: valid.messages }, 'model is required.'],
    [{ ...valid, model: 'm'.repeat(201) }, 'model must be at most 200 characters.'],
    [{ model: 'm', messages: [] }, 'messages must contain at least one message.'],
    [{ model: 'm', messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role must be one of'],
    [{ ...valid, max_output_tokens: 0 }, 'max_output_tokens must be at least 1.'],
    [{ ...valid, max_output_tokens: -1 }, 'does not match'],
    [{ ...valid, temperature: 3 }, 'temperature must be between 0 and 2.'],
    [{ ...valid, top_p: 1.5 }, 'top_p must be between 0 and 1.'],
    [{ ...valid, stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop must have at most 4'],
  ])('refuses %j', (json, expected) => {
    expect(messageOf(json)).toContain(expected);
  });
});
