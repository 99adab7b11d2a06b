import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { backendRetryAfterSeconds } from './backend-retry-after.js';

describe('backendRetryAfterSeconds', () => {
  it('reads a Retry-After sent twice (undici gives an array) as the longer wait', () => {
    // A proxy that adds its own Retry-After to the backend's: undici keeps both lines, as an array.
    const twice = { 'retry-after': ['5', '7'] } as unknown as IncomingHttpHeaders;
    expect(backendRetryAfterSeconds(429, twice)).toBe(7);
    const oneUnreadable = { 'retry-after': ['soon', '3'] } as unknown as IncomingHttpHeaders;
    expect(backendRetryAfterSeconds(503, oneUnreadable)).toBe(3);
    const none = { 'retry-after': ['soon', ''] } as unknown as IncomingHttpHeaders;
    expect(backendRetryAfterSeconds(503, none)).toBeUndefined();
  });
});
