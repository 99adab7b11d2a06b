/** The parts of a chat message the estimate reads (OpenAI shape: string content or an array of parts). */
export interface EstimableMessage {
  readonly content?: unknown;
  readonly name?: unknown;
  /** An assistant message's tool calls (names and JSON arguments): counted as their JSON text. */
  readonly tool_calls?: unknown;
  /** A tool message's reference to the call it answers. */
  readonly tool_call_id?: unknown;
}

/** Tokens added per message for its role and the chat template's separators. */
export const MESSAGE_OVERHEAD_TOKENS = 4;
/** Tokens added once per request for the template that primes the reply. */
export const REQUEST_OVERHEAD_TOKENS = 3;
/** UTF-8 bytes counted as one token; real BPE tokenizers average about 4 on English text. */
const BYTES_PER_TOKEN = 3;
const NO_PROMPT_FIELDS: readonly unknown[] = [];

/**
 * A conservative (high) estimate of a request's input tokens, used to size its budget reservation and
 * tokens-per-minute charge before the backend reports the real count:
 * ceil(UTF-8 bytes of all message text / 3) + 4 per message + 3.
 * Text is a string `content`, the `text` of each `{ type: "text" }` part of an array `content`, a string
 * `name` and `tool_call_id`, the JSON text of an assistant message's `tool_calls`, and the JSON text of each
 * of `promptFields`: request fields besides the messages that a backend renders into the prompt (OpenAI's
 * `tools`, `functions`, `response_format`; a tool's schema can outweigh the messages). Counting UTF-8 bytes rather than characters keeps non-Latin scripts (several bytes and
 * often one token or more per character) covered, and is never below the character count, so the estimate
 * is at least the mock backend's ceil(characters / 4). Not covered: images and other non-text parts (count
 * nothing here) and pathological text that tokenizes above one token per 3 bytes; settlement corrects to
 * the real usage either way.
 */
export function estimateInputTokens(
  messages: readonly EstimableMessage[],
  promptFields: readonly unknown[] = NO_PROMPT_FIELDS,
): number {
  let bytes = 0;
  for (const message of messages) {
    bytes += contentBytes(message.content);
    if (typeof message.name === 'string') bytes += utf8Length(message.name);
    if (typeof message.tool_call_id === 'string') bytes += utf8Length(message.tool_call_id);
    bytes += jsonBytes(message.tool_calls);
  }
  for (const field of promptFields) bytes += jsonBytes(field);
  return (
    Math.ceil(bytes / BYTES_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS * messages.length + REQUEST_OVERHEAD_TOKENS
  );
}

function contentBytes(content: unknown): number {
  if (typeof content === 'string') return utf8Length(content);
  if (!Array.isArray(content)) return 0;
  let bytes = 0;
  for (const part of content as unknown[]) {
    if (typeof part !== 'object' || part === null) continue;
    const { type, text } = part as { type?: unknown; text?: unknown };
    if (type === 'text' && typeof text === 'string') bytes += utf8Length(text);
  }
  return bytes;
}

/**
 * UTF-8 bytes of a value's JSON text (0 for undefined and null): more than the text a backend renders from
 * it into the prompt (tool definitions, call arguments), as JSON adds quotes, keys and punctuation.
 */
function jsonBytes(value: unknown): number {
  if (value === undefined || value === null) return 0;
  return utf8Length(JSON.stringify(value) ?? '');
}

/** UTF-8 length (native, no copy): at least the number of UTF-16 code units. */
function utf8Length(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
