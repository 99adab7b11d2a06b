import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import { InferenceRequestSchema, type InferenceRequest } from '@api-router/contracts';
import { RouterError } from '@api-router/errors';

/** Roles a message may have (ChatMessage.role). */
export const MESSAGE_ROLES: ReadonlySet<string> = new Set(['system', 'user', 'assistant', 'tool']);

/** As the OpenAI route's schema: a model name is echoed into audit events, logs and errors. */
const MAX_MODEL_LENGTH = 200;
const MAX_MESSAGES = 10_000;
const MAX_STOP_SEQUENCES = 4;
const MAX_METADATA_ENTRIES = 16;

/**
 * A /v1/inference body as the contract defines it (proto3 JSON, snake_case or camelCase names; unknown
 * fields are refused), plus the rules the proto cannot express: model set, at least one message, known
 * roles, sampling parameters in range.
 * @throws RouterError('invalid_request') naming the offending field.
 */
export function parseInferenceRequest(json: unknown): InferenceRequest {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw invalid('The body must be a JSON object.');
  }
  let request: InferenceRequest;
  try {
    request = fromJson(InferenceRequestSchema, json as JsonValue);
  } catch (error: unknown) {
    const detail = error instanceof Error ? error.message.slice(0, 300) : 'unreadable';
    throw invalid(`The body does not match router.v1.InferenceRequest: ${detail}`, error);
  }
  const problem = describeProblem(request);
  if (problem !== undefined) throw invalid(problem);
  return request;
}

function describeProblem(request: InferenceRequest): string | undefined {
  if (request.model === '') return 'model is required.';
  if (request.model.length > MAX_MODEL_LENGTH) return `model must be at most ${MAX_MODEL_LENGTH} characters.`;
  if (request.messages.length === 0) return 'messages must contain at least one message.';
  if (request.messages.length > MAX_MESSAGES)
    return `messages must contain at most ${MAX_MESSAGES} messages.`;
  const badRole = request.messages.findIndex((message) => !MESSAGE_ROLES.has(message.role));
  if (badRole !== -1) {
    return `messages[${badRole}].role must be one of ${[...MESSAGE_ROLES].join(', ')}.`;
  }
  if (request.maxOutputTokens === 0) return 'max_output_tokens must be at least 1.';
  if (request.temperature !== undefined && !(request.temperature >= 0 && request.temperature <= 2)) {
    return 'temperature must be between 0 and 2.';
  }
  if (request.topP !== undefined && !(request.topP >= 0 && request.topP <= 1)) {
    return 'top_p must be between 0 and 1.';
  }
  if (request.stop.length > MAX_STOP_SEQUENCES)
    return `stop must have at most ${MAX_STOP_SEQUENCES} sequences.`;
  if (Object.keys(request.metadata).length > MAX_METADATA_ENTRIES) {
    return `metadata must have at most ${MAX_METADATA_ENTRIES} entries.`;
  }
  return undefined;
}

function invalid(message: string, cause?: unknown): RouterError {
  return new RouterError('invalid_request', { message, cause });
}
