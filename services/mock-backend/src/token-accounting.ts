/**
 * The mock's deterministic "tokenizer". Tests of other packages import these functions to compute the
 * usage numbers a mock backend will report, so the rules here are part of the package's contract:
 *
 * - prompt tokens = ceil(total characters of all message text / 4), at least 1. "Characters" are
 *   JavaScript string length (UTF-16 code units). Text is a string `content`, or the `text` of every
 *   `{ type: "text" }` part of an array `content`; other parts, roles and names count nothing.
 * - completion tokens = min(request limit, output tokens), where the request limit is
 *   `max_completion_tokens`, else `max_tokens`, else {@link DEFAULT_MAX_TOKENS}.
 * - content = "tok0 tok1 … tok{n-1}": one word per completion token, streamed one word per chunk.
 */

/** Completion limit applied when the request sets neither `max_completion_tokens` nor `max_tokens`. */
export const DEFAULT_MAX_TOKENS = 16;

/** The subset of an OpenAI chat message the tokenizer reads. */
export interface TokenCountableMessage {
  content?: unknown;
}

/** Prompt tokens the mock reports for these messages (see module comment). Never less than 1. */
export function countPromptTokens(messages: readonly TokenCountableMessage[]): number {
  let characters = 0;
  for (const message of messages) characters += countContentCharacters(message.content);
  return Math.max(1, Math.ceil(characters / 4));
}

function countContentCharacters(content: unknown): number {
  if (typeof content === 'string') return content.length;
  if (!Array.isArray(content)) return 0;
  let characters = 0;
  for (const part of content as unknown[]) {
    if (typeof part !== 'object' || part === null) continue;
    const { type, text } = part as { type?: unknown; text?: unknown };
    if (type === 'text' && typeof text === 'string') characters += text.length;
  }
  return characters;
}

export interface CompletionTokenLimits {
  /** The request's `max_completion_tokens`, if any (wins over `maxTokens`). */
  maxCompletionTokens?: number | undefined;
  /** The request's `max_tokens`, if any. */
  maxTokens?: number | undefined;
  /** Tokens the mock would generate unconstrained (`MOCK_OUTPUT_TOKENS` / `x-mock-output-tokens`). */
  outputTokens: number;
}

export interface CompletionTokenCount {
  completionTokens: number;
  /** "length" when the request limit cut the output short, else "stop". */
  finishReason: 'stop' | 'length';
}

/** Completion tokens the mock generates, and why it stopped. */
export function countCompletionTokens(limits: CompletionTokenLimits): CompletionTokenCount {
  const limit = limits.maxCompletionTokens ?? limits.maxTokens ?? DEFAULT_MAX_TOKENS;
  if (limits.outputTokens > limit) return { completionTokens: limit, finishReason: 'length' };
  return { completionTokens: limits.outputTokens, finishReason: 'stop' };
}

/** The content pieces of a completion of `tokens` tokens: "tok0", " tok1", … (joined: the message content). */
export function completionPieces(tokens: number): string[] {
  const pieces = new Array<string>(tokens);
  for (let index = 0; index < tokens; index += 1) pieces[index] = index === 0 ? 'tok0' : ` tok${index}`;
  return pieces;
}

/** The full message content of a completion of `tokens` tokens. */
export function completionText(tokens: number): string {
  return completionPieces(tokens).join('');
}
