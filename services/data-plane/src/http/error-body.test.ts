import { describe, expect, it } from 'vitest';
import { ERROR_CODES, RouterError } from '@api-router/errors';
import { renderErrorBody } from './error-body.js';

describe('renderErrorBody', () => {
  it('renders the router shape with request id, retryable flag and public details', () => {
    const error = new RouterError('upstream_error', {
      message: 'The model backend answered with status 500.',
      cause: new Error('socket hang up at 10.0.0.7'),
      details: { upstream_status: 500 },
    });
    expect(renderErrorBody(error, 'req-1', 'router')).toEqual({
      error: {
        code: 'upstream_error',
        message: 'The model backend answered with status 500.',
        request_id: 'req-1',
        retryable: true,
        details: { upstream_status: 500 },
      },
    });
  });

  it("renders OpenAI's shape with the type its SDKs expect and the catalogue code", () => {
    expect(renderErrorBody(new RouterError('unauthenticated'), 'req-1', 'openai')).toEqual({
      error: {
        message: 'Missing or invalid credentials.',
        type: 'authentication_error',
        param: null,
        code: 'unauthenticated',
      },
    });
    const invalid = new RouterError('invalid_request', { message: 'bad', details: { param: 'messages' } });
    expect(renderErrorBody(invalid, 'r', 'openai')).toMatchObject({
      error: { type: 'invalid_request_error', param: 'messages' },
    });
  });

  it('never renders an internal cause, in either shape, for any code', () => {
    for (const code of ERROR_CODES) {
      const error = new RouterError(code, { cause: new Error('INTERNAL-DETAIL') });
      for (const shape of ['router', 'openai'] as const) {
        expect(JSON.stringify(renderErrorBody(error, 'r', shape))).not.toContain('INTERNAL-DETAIL');
      }
    }
  });
});
