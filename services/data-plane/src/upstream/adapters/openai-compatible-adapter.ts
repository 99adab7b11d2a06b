import { OutputLimitParam, type InferenceRequest } from '@api-router/contracts';
import {
  isTokenCount,
  type BodyTarget,
  type Completion,
  type ProviderAdapter,
  type StreamChunk,
  type TokenCounts,
} from './provider-adapter.js';
import { completionAsSse } from './openai-completion-chunks.js';
import { completionFromSse } from './openai-stream-completion.js';

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const stringOr = (value: unknown, fallback: string): string => (typeof value === 'string' ? value : fallback);

/** OpenAI's chat completions API, as spoken by OpenAI, vLLM, TGI, llama.cpp and the mock backend. */
export const openAICompatibleAdapter: ProviderAdapter = {
  chatPath: '/chat/completions',

  chatBodyFromInference(request: InferenceRequest, target: BodyTarget): Json {
    const body: Json = {
      model: target.upstreamModel,
      messages: request.messages.map((message) => ({ role: message.role, content: message.content })),
    };
    if (request.maxOutputTokens !== undefined) body[limitField(target)] = request.maxOutputTokens;
    if (request.temperature !== undefined) body.temperature = request.temperature;
    if (request.topP !== undefined) body.top_p = request.topP;
    if (request.stop.length > 0) body.stop = [...request.stop];
    if (request.stream) {
      body.stream = true;
      body.stream_options = { include_usage: true };
    }
    return body;
  },

  chatBodyFromOpenAI(body: Readonly<Json>, target: BodyTarget, outputCap: number | undefined): Json {
    const wire: Json = { ...body, model: target.upstreamModel };
    if (outputCap !== undefined) {
      const field = limitField(target);
      // The request set no limit, so its other limit field is absent or null. A null one is dropped: a
      // backend that refuses that field might refuse it even empty.
      const other = field === 'max_tokens' ? 'max_completion_tokens' : 'max_tokens';
      if (other in wire) delete wire[other];
      wire[field] = outputCap;
    }
    if (body.stream === true) {
      wire.stream_options = {
        ...(isObject(body.stream_options) ? body.stream_options : {}),
        include_usage: true,
      };
    }
    return wire;
  },

  parseCompletion,

  completionAsStream(json: unknown): string | undefined {
    // Accepted as a JSON answer is: a body that is not a completion is refused the same way.
    return parseCompletion(json) === undefined ? undefined : completionAsSse(json as Json);
  },

  streamAsCompletion: completionFromSse,

  parseStreamData(data: string): StreamChunk | undefined {
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      // Not JSON: not a chunk. The relay forwards it untouched and the caller decides what that means.
      return undefined;
    }
    if (!isObject(json)) return undefined;
    const choices = Array.isArray(json.choices) ? (json.choices as unknown[]) : [];
    const choice: unknown = choices[0];
    const delta = isObject(choice) && isObject(choice.delta) ? choice.delta : undefined;
    const usage = parseUsage(json.usage);
    return {
      id: typeof json.id === 'string' ? json.id : undefined,
      model: typeof json.model === 'string' ? json.model : undefined,
      contentDelta: delta !== undefined ? stringOr(delta.content, '') : '',
      generatesOutput: choices.some(generatesOutput),
      finishReason:
        isObject(choice) && typeof choice.finish_reason === 'string' ? choice.finish_reason : undefined,
      usage,
      usageOnly: choices.length === 0 && usage !== undefined,
      // OpenAI's shape, and vLLM's older one (`{"object": "error", "message": …}`).
      upstreamError: isObject(json.error) || json.object === 'error',
    };
  },

  isStreamEnd: (data: string) => data.trim() === '[DONE]',
};

function parseCompletion(json: unknown): Completion | undefined {
  if (!isObject(json) || !Array.isArray(json.choices)) return undefined;
  const choice: unknown = json.choices[0];
  const message = isObject(choice) ? choice.message : undefined;
  if (!isObject(choice) || !isObject(message)) return undefined;
  return {
    id: stringOr(json.id, ''),
    model: stringOr(json.model, ''),
    role: stringOr(message.role, 'assistant'),
    content: stringOr(message.content, ''),
    finishReason: stringOr(choice.finish_reason, ''),
    usage: parseUsage(json.usage),
  };
}

/** Delta fields that carry generated output: text, a refusal, reasoning (vLLM, DeepSeek, OpenRouter). */
const GENERATED_TEXT_FIELDS = ['content', 'refusal', 'reasoning_content', 'reasoning'] as const;

/** Whether a streamed choice's delta carries generated output (StreamChunk.generatesOutput). */
function generatesOutput(choice: unknown): boolean {
  if (!isObject(choice) || !isObject(choice.delta)) return false;
  const { delta } = choice;
  if (Array.isArray(delta.tool_calls) && delta.tool_calls.length > 0) return true;
  return GENERATED_TEXT_FIELDS.some((field) => typeof delta[field] === 'string' && delta[field] !== '');
}

/**
 * The body field of an output limit the router sets on this target: OpenAI's reasoning models refuse
 * `max_tokens`, older OpenAI-compatible servers know nothing else. UNSPECIFIED (a snapshot from before the
 * setting) keeps `max_tokens`.
 */
function limitField(target: BodyTarget): 'max_tokens' | 'max_completion_tokens' {
  return target.backend.outputLimitParam === OutputLimitParam.MAX_COMPLETION_TOKENS
    ? 'max_completion_tokens'
    : 'max_tokens';
}

function parseUsage(value: unknown): TokenCounts | undefined {
  if (!isObject(value)) return undefined;
  const input = value.prompt_tokens;
  const output = value.completion_tokens;
  // Counts no store can charge (negative, fractional, not numbers) are no usage: the reservation is charged.
  if (!isTokenCount(input) || !isTokenCount(output)) return undefined;
  return { inputTokens: input, outputTokens: output };
}
