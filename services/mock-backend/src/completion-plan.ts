import type { ChatRequest } from './chat-request.js';
import { completionPieces, countCompletionTokens, countPromptTokens } from './token-accounting.js';

/** OpenAI `usage` object. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Everything about one completion decided before a byte is written; JSON and SSE render the same plan. */
export interface CompletionPlan {
  /** `chatcmpl-…` id shared by the response or every chunk. */
  id: string;
  /** Unix time in seconds. */
  created: number;
  /** The requested model, echoed as vLLM does. */
  model: string;
  /** Content pieces, one per completion token; joined they are the message content. */
  pieces: string[];
  finishReason: 'stop' | 'length';
  usage: Usage;
  /** Whether the client asked for `stream_options.include_usage` (adds `"usage": null` to non-final chunks). */
  includeUsage: boolean;
}

export interface CompletionIdentity {
  id: string;
  createdSeconds: number;
}

/** Decides content and usage of a completion from the request and the output-token setting. Pure. */
export function planCompletion(
  request: ChatRequest,
  outputTokens: number,
  identity: CompletionIdentity,
): CompletionPlan {
  const promptTokens = countPromptTokens(request.messages);
  const { completionTokens, finishReason } = countCompletionTokens({
    maxCompletionTokens: request.maxCompletionTokens,
    maxTokens: request.maxTokens,
    outputTokens,
  });
  return {
    id: identity.id,
    created: identity.createdSeconds,
    model: request.model,
    pieces: completionPieces(completionTokens),
    finishReason,
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
    includeUsage: request.includeUsage,
  };
}
