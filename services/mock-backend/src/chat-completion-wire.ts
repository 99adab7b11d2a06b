import type { CompletionPlan, Usage } from './completion-plan.js';

/** OpenAI `chat.completion` response body. */
export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  system_fingerprint: null;
  choices: Array<{
    index: number;
    message: { role: 'assistant'; content: string; refusal: null };
    logprobs: null;
    finish_reason: 'stop' | 'length';
  }>;
  usage: Usage;
}

/** OpenAI `chat.completion.chunk` stream event. */
export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  system_fingerprint: null;
  choices: Array<{
    index: number;
    delta: { role?: 'assistant'; content?: string };
    logprobs: null;
    finish_reason: 'stop' | 'length' | null;
  }>;
  /** Absent unless the client asked for usage; then null on every chunk but the final usage chunk. */
  usage?: Usage | null;
}

/** The non-streaming response for a plan. */
export function buildChatCompletion(plan: CompletionPlan): ChatCompletion {
  return {
    id: plan.id,
    object: 'chat.completion',
    created: plan.created,
    model: plan.model,
    system_fingerprint: null,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: plan.pieces.join(''), refusal: null },
        logprobs: null,
        finish_reason: plan.finishReason,
      },
    ],
    usage: plan.usage,
  };
}

/** A chunk carrying one choice delta (role, content piece, or the empty delta with the finish reason). */
export function buildDeltaChunk(
  plan: CompletionPlan,
  delta: ChatCompletionChunk['choices'][number]['delta'],
  finishReason: 'stop' | 'length' | null = null,
): ChatCompletionChunk {
  const chunk: ChatCompletionChunk = {
    id: plan.id,
    object: 'chat.completion.chunk',
    created: plan.created,
    model: plan.model,
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  };
  if (plan.includeUsage) chunk.usage = null;
  return chunk;
}

/**
 * The final chunk: no choices, the usage. OpenAI and vLLM send it only with
 * `stream_options.include_usage: true`; the mock always sends it (see README).
 */
export function buildUsageChunk(plan: CompletionPlan): ChatCompletionChunk {
  return {
    id: plan.id,
    object: 'chat.completion.chunk',
    created: plan.created,
    model: plan.model,
    system_fingerprint: null,
    choices: [],
    usage: plan.usage,
  };
}
