/**
 * JSON schema (validated by fastify's ajv, without type coercion) of POST /v1/chat/completions bodies: what
 * the router itself relies on is checked strictly; every other OpenAI parameter (tools, response_format,
 * seed, …) passes through to the backend unchecked, so new OpenAI features need no router change.
 */
export const CHAT_COMPLETION_BODY_SCHEMA = {
  type: 'object',
  required: ['model', 'messages'],
  properties: {
    model: { type: 'string', minLength: 1, maxLength: 200 },
    messages: {
      type: 'array',
      minItems: 1,
      maxItems: 10_000,
      items: {
        type: 'object',
        required: ['role'],
        properties: {
          role: { type: 'string', enum: ['system', 'developer', 'user', 'assistant', 'tool', 'function'] },
          content: { anyOf: [{ type: 'string' }, { type: 'array' }, { type: 'null' }] },
          name: { type: 'string' },
        },
      },
    },
    stream: { type: ['boolean', 'null'] },
    stream_options: {
      anyOf: [{ type: 'null' }, { type: 'object', properties: { include_usage: { type: 'boolean' } } }],
    },
    max_tokens: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 1 }] },
    max_completion_tokens: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 1 }] },
    n: { anyOf: [{ type: 'null' }, { type: 'integer', minimum: 1, maximum: 128 }] },
    temperature: { anyOf: [{ type: 'null' }, { type: 'number', minimum: 0, maximum: 2 }] },
    top_p: { anyOf: [{ type: 'null' }, { type: 'number', minimum: 0, maximum: 1 }] },
  },
} as const;

/** A body that passed {@link CHAT_COMPLETION_BODY_SCHEMA}. */
export interface ChatCompletionBody {
  readonly model: string;
  readonly messages: readonly Record<string, unknown>[];
  readonly stream?: boolean | null;
  readonly stream_options?: { readonly include_usage?: boolean } | null;
  readonly [parameter: string]: unknown;
}
