import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimateInputTokens, type EstimableMessage } from './estimate-input-tokens.js';

/**
 * The mock backend's documented prompt-token rule (services/mock-backend/src/token-accounting.ts):
 * ceil(UTF-16 code units of all message text / 4), at least 1; text = string content or text parts.
 */
function mockPromptTokens(messages: readonly EstimableMessage[]): number {
  let characters = 0;
  for (const { content } of messages) {
    if (typeof content === 'string') characters += content.length;
    else if (Array.isArray(content)) {
      for (const part of content as { type?: unknown; text?: unknown }[]) {
        if (part.type === 'text' && typeof part.text === 'string') characters += part.text.length;
      }
    }
  }
  return Math.max(1, Math.ceil(characters / 4));
}

const text = fc.oneof(
  fc.string({ maxLength: 400 }),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
);
const message: fc.Arbitrary<EstimableMessage> = fc.oneof(
  fc.record({ role: fc.constant('user'), content: text }),
  fc.record({
    role: fc.constant('user'),
    content: fc.array(
      fc.oneof(
        fc.record({ type: fc.constant('text'), text }),
        fc.record({ type: fc.constant('image_url'), image_url: fc.record({ url: fc.webUrl() }) }),
      ),
      { maxLength: 4 },
    ),
  }),
  fc.record({ role: fc.constant('tool'), content: fc.constant(null), name: fc.string({ maxLength: 20 }) }),
);

describe('estimateInputTokens', () => {
  it('is ceil(UTF-8 bytes / 3) + 4 per message + 3', () => {
    expect(estimateInputTokens([])).toBe(3);
    expect(estimateInputTokens([{ content: 'abcdef' }])).toBe(2 + 4 + 3);
    expect(estimateInputTokens([{ content: 'abcdefg' }, { content: '' }])).toBe(3 + 8 + 3);
    // "é" is 2 bytes, "日" 3, "😀" 4 (two UTF-16 units).
    expect(estimateInputTokens([{ content: 'é日😀' }])).toBe(3 + 4 + 3);
    expect(
      estimateInputTokens([
        {
          content: [
            { type: 'text', text: 'abc' },
            { type: 'image_url', image_url: { url: 'http://x/y.png' } },
            { type: 'text', text: 'def' },
          ],
          name: 'bob',
        },
      ]),
    ).toBe(3 + 4 + 3);
  });

  it('counts tool calls, tool answers and the request fields rendered into the prompt as their JSON text', () => {
    const toolCalls = [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }];
    const toolCallsBytes = JSON.stringify(toolCalls).length;
    expect(estimateInputTokens([{ content: null, tool_calls: toolCalls }])).toBe(
      Math.ceil(toolCallsBytes / 3) + 4 + 3,
    );
    expect(estimateInputTokens([{ content: 'abc', tool_call_id: 'c1' }])).toBe(Math.ceil(5 / 3) + 4 + 3);
    const tools = [
      {
        type: 'function',
        function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } },
      },
    ];
    const toolsBytes = JSON.stringify(tools).length;
    expect(estimateInputTokens([{ content: 'abc' }], [tools, undefined, null])).toBe(
      Math.ceil((3 + toolsBytes) / 3) + 4 + 3,
    );
  });

  it('is never below what the mock backend counts', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 8 }), (messages) => {
        expect(estimateInputTokens(messages)).toBeGreaterThanOrEqual(mockPromptTokens(messages));
      }),
      { numRuns: 500 },
    );
  });
});
