import { describe, expect, it } from 'vitest';
import { postChat, readAll, readCompletion, startTestBackend } from './real-backend.test-support.js';

describe('slow and truncated JSON bodies', () => {
  it('writes the same body in delayed pieces', async () => {
    await using test = await startTestBackend();
    const plain = await readCompletion(await postChat(test.backend, {}));
    const headers = { 'x-mock-chunk-delay-ms': '15', 'x-mock-first-byte-delay-ms': '40' };
    const slow = await readCompletion(await postChat(test.backend, {}, headers));
    // Same body but for the id (a counter) and `created`, the second each request was made in.
    expect({ ...slow, id: plain.id, created: plain.created }).toEqual(plain);
    expect(slow.created - plain.created).toBeGreaterThanOrEqual(0);
    expect(test.sleeps[0]).toBe(40);
    expect(test.sleeps.length).toBeGreaterThan(2);
    expect(test.sleeps.slice(1).every((ms) => ms === 15)).toBe(true);
  });

  it('drops the connection after N body bytes', async () => {
    await using test = await startTestBackend();
    const response = await postChat(test.backend, {}, { 'x-mock-truncate-after': '25' });
    expect(response.status).toBe(200);
    const { text, failed } = await readAll(response);
    expect(failed).toBe(true);
    expect(text.length).toBeLessThanOrEqual(25);
  });
});
