import { describe, expect, it } from 'vitest';
import { outputLimit } from './chat-completions-handler.js';

describe('outputLimit (what a chat completion reserves for per choice)', () => {
  it('is the one limit the request sets, or none', () => {
    expect(outputLimit({})).toBeUndefined();
    expect(outputLimit({ max_tokens: null, max_completion_tokens: null })).toBeUndefined();
    expect(outputLimit({ max_tokens: 7 })).toBe(7);
    expect(outputLimit({ max_completion_tokens: 9, max_tokens: null })).toBe(9);
  });

  it('is the larger of the two when both are set: both go upstream and the backend may honour either', () => {
    expect(outputLimit({ max_completion_tokens: 1, max_tokens: 4000 })).toBe(4000);
    expect(outputLimit({ max_completion_tokens: 4000, max_tokens: 1 })).toBe(4000);
  });
});
