import { describe, expect, it } from 'vitest';
import { describeBaseUrlProblem } from './base-url-problem.js';

describe('describeBaseUrlProblem', () => {
  it.each([
    'http://127.0.0.1:9101/v1',
    'https://api.example.com',
    'HTTPS://api.example.com/v1',
    'http://[::1]:8000/v1',
  ])('accepts %s', (url) => {
    expect(describeBaseUrlProblem(url)).toBeUndefined();
  });

  it.each([
    ['', 'must be an absolute http(s) URL'],
    ['api.example.com/v1', 'must be an absolute http(s) URL'],
    ['http:/api.example.com/v1', 'must be an absolute http(s) URL'],
    [' http://api.example.com/v1', 'must be an absolute http(s) URL'],
    ['ws://api.example.com/v1', 'must use http or https'],
    ['http://user@api.example.com/v1', 'must not contain credentials (use credentialRef)'],
    ['http://api.example.com/v1?', 'must not have a query'],
    ['http://api.example.com/v1#', 'must not have a fragment'],
    ['http://api.example.com/', 'must not end with a slash'],
  ])('rejects %j: %s', (url, problem) => {
    expect(describeBaseUrlProblem(url)).toBe(problem);
  });
});
