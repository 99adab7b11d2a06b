import { describe, expect, it } from 'vitest';
import { createRequestRecorder, REDACTED_MARKER } from './request-recorder.js';

const request = (url: string, headers: Record<string, string> = {}) => ({
  method: 'POST',
  url,
  headers,
  body: { n: url },
});

describe('createRequestRecorder', () => {
  it('keeps the last N requests, oldest first', () => {
    const recorder = createRequestRecorder(2);
    recorder.record(request('/a'), 1);
    recorder.record(request('/b'), 2);
    recorder.record(request('/c'), 3);
    expect(recorder.list().map((entry) => entry.url)).toEqual(['/b', '/c']);
    recorder.record(request('/d'), 4);
    expect(recorder.list().map((entry) => [entry.url, entry.receivedAtMs])).toEqual([
      ['/c', 3],
      ['/d', 4],
    ]);
  });

  it('redacts credentials but shows they were present', () => {
    const recorder = createRequestRecorder(5);
    recorder.record(
      request('/a', { authorization: 'Bearer sk-secret', 'x-api-key': 'k', traceparent: 't' }),
      1,
    );
    const [entry] = recorder.list();
    expect(entry!.headers).toEqual({
      authorization: REDACTED_MARKER,
      'x-api-key': REDACTED_MARKER,
      traceparent: 't',
    });
    expect(JSON.stringify(recorder.list())).not.toContain('sk-secret');
  });

  it('clears, and records nothing with limit 0', () => {
    const recorder = createRequestRecorder(3);
    recorder.record(request('/a'), 1);
    recorder.clear();
    expect(recorder.list()).toEqual([]);
    const disabled = createRequestRecorder(0);
    disabled.record(request('/a'), 1);
    expect(disabled.list()).toEqual([]);
  });
});
