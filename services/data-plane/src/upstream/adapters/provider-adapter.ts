import type { Backend, InferenceRequest } from '@api-router/contracts';

/** Token counts as the router reports them (OpenAI's prompt/completion tokens). */
export interface TokenCounts {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/**
 * A count a limit store can charge: a whole, non-negative, safe number. Adapters read any other count a
 * backend reports as no usage (the reservation is charged instead).
 */
export const isTokenCount = (value: unknown): value is number =>
  Number.isSafeInteger(value) && (value as number) >= 0;

/** A whole completion, provider-neutral. */
export interface Completion {
  readonly id: string;
  readonly model: string;
  readonly role: string;
  readonly content: string;
  /** "stop", "length", "content_filter", … as the backend reported it. */
  readonly finishReason: string;
  /** Undefined when the backend reported none. */
  readonly usage: TokenCounts | undefined;
}

/** One streamed event, provider-neutral. */
export interface StreamChunk {
  readonly id: string | undefined;
  readonly model: string | undefined;
  /** Text added by this chunk ("" for role-only, finish and usage chunks). */
  readonly contentDelta: string;
  /**
   * The chunk carries generated output of any kind, in any choice: text, tool-call fragments, a refusal,
   * reasoning. What the time to first token waits for (a tool-call-only stream has no text at all).
   */
  readonly generatesOutput: boolean;
  readonly finishReason: string | undefined;
  readonly usage: TokenCounts | undefined;
  /** True for a chunk that carries usage and no choice (OpenAI's include_usage chunk). */
  readonly usageOnly: boolean;
  /** True for an error the backend reported in place of a chunk (`{"error": …}`): the stream failed. */
  readonly upstreamError: boolean;
}

/**
 * What the wire body depends on in the target a request is sent to: a failover to another backend builds
 * the body again for that one. A route's RuntimeTarget is one.
 */
export interface BodyTarget {
  /** Model name sent to the backend. */
  readonly upstreamModel: string;
  /** Its `outputLimitParam` names the body field of an output limit the router sets. */
  readonly backend: Pick<Backend, 'outputLimitParam'>;
}

/**
 * How the router talks to one kind of backend API: mostly data mapping, no I/O and no web framework. The
 * data plane picks an adapter by the backend's provider.
 */
export interface ProviderAdapter {
  /** Path of the chat endpoint under the backend's base URL. */
  readonly chatPath: string;
  /**
   * Wire body for a /v1/inference request (already validated, its `maxOutputTokens` the client's or the
   * imposed cap), for `target`.
   */
  chatBodyFromInference(request: InferenceRequest, target: BodyTarget): Record<string, unknown>;
  /**
   * Wire body for an OpenAI chat completions request (already validated), for `target`. Streams always ask
   * for usage (the router needs it); see `usageOnly` chunks. `outputCap`, given only when the request set no
   * output limit of its own, is the one the router imposes; the client's own limits go as sent.
   */
  chatBodyFromOpenAI(
    body: Readonly<Record<string, unknown>>,
    target: BodyTarget,
    outputCap: number | undefined,
  ): Record<string, unknown>;
  /** A completion from a JSON response body; undefined when the body is not a completion. */
  parseCompletion(json: unknown): Completion | undefined;
  /**
   * The SSE text the backend would have streamed for a whole JSON completion (its chunks, then the end
   * marker that `isStreamEnd` recognises), for a backend that ignored a stream request and answered JSON;
   * undefined when `json` is not a completion (as for parseCompletion).
   */
  completionAsStream(json: unknown): string | undefined;
  /**
   * The whole completion (a JSON value parseCompletion reads) that a stream adds up to, for a backend that
   * answered a request for one with a stream: `data` holds the data of its events in order, up to the end
   * marker (`isStreamEnd`), which came; the caller has refused a stream that reports an error
   * (`upstreamError`). Undefined when the events hold no completion.
   */
  streamAsCompletion(data: readonly string[]): unknown;
  /** A chunk from the data of one SSE event; undefined when it is not one. */
  parseStreamData(data: string): StreamChunk | undefined;
  /** True for the event that ends a stream cleanly. */
  isStreamEnd(data: string): boolean;
}
