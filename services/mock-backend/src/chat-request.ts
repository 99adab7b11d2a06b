import { OpenAIError } from './openai-error.js';
import type { TokenCountableMessage } from './token-accounting.js';

/** The fields of an OpenAI chat completions request the mock acts on; others are accepted and ignored. */
export interface ChatRequest {
  model: string;
  messages: TokenCountableMessage[];
  maxTokens: number | undefined;
  maxCompletionTokens: number | undefined;
  stream: boolean;
  /** `stream_options.include_usage`; only changes whether non-final chunks carry `"usage": null`. */
  includeUsage: boolean;
}

/**
 * Validates a chat completions body the way OpenAI-compatible servers do for the fields that matter here.
 * Throws {@link OpenAIError} 400 with `param` naming the field on a malformed body.
 */
export function parseChatRequest(body: unknown): ChatRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new OpenAIError(400, 'The request body must be a JSON object.');
  }
  const fields = body as Record<string, unknown>;
  const { model, messages } = fields;
  if (typeof model !== 'string' || model === '') {
    throw new OpenAIError(400, 'model is required and must be a non-empty string.', { param: 'model' });
  }
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new OpenAIError(400, 'messages must be a non-empty array.', { param: 'messages' });
  }
  for (const message of messages as unknown[]) {
    if (
      typeof message !== 'object' ||
      message === null ||
      typeof (message as { role?: unknown }).role !== 'string'
    ) {
      throw new OpenAIError(400, 'every message must be an object with a string role.', {
        param: 'messages',
      });
    }
  }
  const streamOptions = fields.stream_options;
  return {
    model,
    messages: messages as TokenCountableMessage[],
    maxTokens: readTokenLimit(fields, 'max_tokens'),
    maxCompletionTokens: readTokenLimit(fields, 'max_completion_tokens'),
    stream: readOptionalBoolean(fields, 'stream'),
    includeUsage:
      typeof streamOptions === 'object' &&
      streamOptions !== null &&
      (streamOptions as { include_usage?: unknown }).include_usage === true,
  };
}

function readTokenLimit(fields: Record<string, unknown>, name: string): number | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new OpenAIError(400, `${name} must be an integer of at least 1.`, { param: name });
  }
  return value;
}

function readOptionalBoolean(fields: Record<string, unknown>, name: string): boolean {
  const value = fields[name];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw new OpenAIError(400, `${name} must be a boolean.`, { param: name });
  return value;
}
