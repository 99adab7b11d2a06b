import { describe, expect, it } from 'vitest';
import {
  completionPieces,
  completionText,
  countCompletionTokens,
  countPromptTokens,
  DEFAULT_MAX_TOKENS,
} from './token-accounting.js';

describe('countPromptTokens', () => {
  it('is ceil(characters / 4) over all string contents', () => {
    expect(countPromptTokens([{ content: 'abcd' }, { content: 'e' }])).toBe(2);
    expect(countPromptTokens([{ content: 'a'.repeat(40) }])).toBe(10);
  });

  it('counts only text parts of array contents and ignores null content', () => {
    const messages = [
      {
        content: [
          { type: 'text', text: 'abcdefgh' },
          { type: 'image_url', image_url: { url: 'x'.repeat(100) } },
        ],
      },
      { content: null },
    ];
    expect(countPromptTokens(messages)).toBe(2);
  });

  it('is at least 1', () => {
    expect(countPromptTokens([{ content: '' }])).toBe(1);
    expect(countPromptTokens([])).toBe(1);
  });
});

describe('countCompletionTokens', () => {
  it('stops on its own when the output fits the limit', () => {
    expect(countCompletionTokens({ maxTokens: 100, outputTokens: 5 })).toEqual({
      completionTokens: 5,
      finishReason: 'stop',
    });
  });

  it('is cut to the limit with finish reason "length"', () => {
    expect(countCompletionTokens({ maxTokens: 3, outputTokens: 5 })).toEqual({
      completionTokens: 3,
      finishReason: 'length',
    });
  });

  it('prefers max_completion_tokens over max_tokens and defaults the limit', () => {
    expect(
      countCompletionTokens({ maxCompletionTokens: 2, maxTokens: 50, outputTokens: 10 }).completionTokens,
    ).toBe(2);
    expect(countCompletionTokens({ outputTokens: 1000 }).completionTokens).toBe(DEFAULT_MAX_TOKENS);
  });
});

describe('completion content', () => {
  it('is one word per token', () => {
    expect(completionPieces(3)).toEqual(['tok0', ' tok1', ' tok2']);
    expect(completionText(3)).toBe('tok0 tok1 tok2');
    expect(completionText(0)).toBe('');
  });
});
