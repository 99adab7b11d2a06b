import { describe, expect, it } from 'vitest';
import { describeBaseUrlProblem } from './base-url-problem.js';

describe('describeBaseUrlProblem', () => {
  it.each([
    'http://127.0.0.1:9101/v1',
    'https://api.example.com',
    'HTTPS://api.example.com/v1',
    'http://[::1]:8000/v1',
    'http://API.Example.com:0443/v1',
    'http://api.example.com:/v1',
    'http://xn--exmple-4nf.com/v1',
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

  // What the data plane dials and requests is the URL as parsed (its origin and pathname): a URL whose
  // parsed form is another host or path than the one written would send traffic, and the backend's
  // credential, somewhere the operator reading the config does not see.
  it.each([
    [
      'http://ex\u0430mple.com/v1',
      'must be printable ASCII (it is read as "http://xn--exmple-4nf.com/v1"): non-ASCII letters can look like others; write a host name in its xn-- form',
    ],
    ['http://api.example.com/v1/../admin', 'path "/v1/../admin" is read as "/admin": write "/admin"'],
    ['http://api.example.com/v1/./chat', 'path "/v1/./chat" is read as "/v1/chat": write "/v1/chat"'],
    [
      'http://api.example.com\\v1',
      'host "api.example.com\\v1" is read as "api.example.com": write "api.example.com"',
    ],
    ['http://0x7f.1:8000/v1', 'host "0x7f.1" is read as "127.0.0.1": write "127.0.0.1"'],
    ['http://ex%61mple.com/v1', 'host "ex%61mple.com" is read as "example.com": write "example.com"'],
    ['http://api.example.com:0/v1', 'must not use port 0'],
  ])('rejects %j, whose parsed form differs from what is written: %s', (url, problem) => {
    expect(describeBaseUrlProblem(url)).toBe(problem);
  });
});
