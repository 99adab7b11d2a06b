import { describe, expect, it } from 'vitest';
import type { SignableRequest } from './signable-request.js';
import { parseRequestTarget } from './request-target.js';

const request = (
  url: string,
  headers: SignableRequest['headers'] = {},
  scheme?: string,
): SignableRequest => ({
  method: 'GET',
  url,
  headers,
  scheme,
});

describe('parseRequestTarget', () => {
  it('splits an origin-form target and takes the authority from Host', () => {
    expect(parseRequestTarget(request('/v1/chat?a=1&b=2', { Host: 'Router.Example:443' }))).toEqual({
      scheme: 'https',
      authority: 'router.example',
      path: '/v1/chat',
      query: 'a=1&b=2',
    });
  });

  it('keeps a non-default port, and drops http:80 only for http', () => {
    expect(parseRequestTarget(request('/', { host: 'h:8080' })).authority).toBe('h:8080');
    expect(parseRequestTarget(request('/', { host: 'h:80' }, 'http')).authority).toBe('h');
    expect(parseRequestTarget(request('/', { host: 'h:80' })).authority).toBe('h:80');
    expect(parseRequestTarget(request('/', { host: '[::1]:443' })).authority).toBe('[::1]');
    expect(parseRequestTarget(request('/', { host: '[::1]' })).authority).toBe('[::1]');
  });

  it('does not strip a trailing NBSP from Host: the authority keeps the byte that was sent', () => {
    expect(parseRequestTarget(request('/', { host: 'h.example\u00a0' })).authority).toBe('h.example\u00a0');
  });

  it('prefers HTTP/2 :authority and reports no authority when there is none', () => {
    expect(parseRequestTarget(request('/', { ':authority': 'a.example', host: 'b.example' })).authority).toBe(
      'a.example',
    );
    expect(parseRequestTarget(request('/')).authority).toBeUndefined();
  });

  it('splits an absolute-form target, ignoring user info', () => {
    expect(parseRequestTarget(request('HTTP://user:pw@Example.com:80/p/a%2Fth?q=%20x'))).toEqual({
      scheme: 'http',
      authority: 'example.com',
      path: '/p/a%2Fth',
      query: 'q=%20x',
    });
  });

  it('never normalises the path or query, and maps an empty path to "/"', () => {
    expect(parseRequestTarget(request('/a/../b/./c?x=%41')).path).toBe('/a/../b/./c');
    expect(parseRequestTarget(request('https://h')).path).toBe('/');
    expect(parseRequestTarget(request('https://h?x')).query).toBe('x');
    expect(parseRequestTarget(request('/p?')).query).toBe('');
    expect(parseRequestTarget(request('/p')).query).toBeUndefined();
  });
});
