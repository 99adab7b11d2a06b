import type { FastifyReply, FastifyRequest } from 'fastify';
import { toRouterError } from '@api-router/errors';
import { renderErrorBody, type ErrorShape } from '../http/error-body.js';
import type { Completion } from '../upstream/adapters/provider-adapter.js';
import { parseJsonBody, unreadableCompletion } from './completion-body.js';
import { completionFromEventStream } from './event-stream-completion.js';
import { finishAttempt, type UpstreamSuccess } from './call-upstream.js';
import type { InferenceHandlerDeps, InferenceSession } from './inference-session.js';
import { CLIENT_CLOSED_STATUS } from './request-signal.js';
import { relaySse, write, type SseEventAction } from './sse-relay.js';
import type { SseEvent } from './sse-event-parser.js';
import { isJsonResponse, wholeCompletionAsStream } from './whole-completion-stream.js';

/** A whole upstream JSON completion: its exact bytes and what the adapter read from them. */
export interface UpstreamCompletion {
  readonly raw: Buffer;
  readonly completion: Completion;
}

/**
 * Reads the completion and usage from the upstream JSON response (read whole, size-capped, by the admitted
 * call: its attempt is over). A body that is not a completion is a 502 (thrown). A body the backend sent as
 * `text/event-stream` (it streamed though the request did not ask to) is assembled into the completion it
 * adds up to (completionFromEventStream), whose JSON is then `raw`: the client gets the whole completion it
 * asked for, read, accounted and answered as a JSON one.
 */
export function readCompletion(
  deps: InferenceHandlerDeps,
  session: InferenceSession,
  success: UpstreamSuccess,
): UpstreamCompletion {
  if (success.kind !== 'whole') throw new Error('readCompletion needs an answer read whole (stream: false)');
  const adapter = deps.adapterFor(success.target.backend);
  const body = success.body;
  let raw = body;
  let json: unknown;
  if (success.eventStream) {
    json = completionFromEventStream(body, adapter);
    if (json !== undefined) raw = Buffer.from(JSON.stringify(json), 'utf8');
  } else {
    json = parseJsonBody(body);
  }
  const completion = adapter.parseCompletion(json);
  // The backend's own bytes (the stream, not what it added up to) for the log.
  if (completion === undefined) throw unreadableCompletion(body);
  session.state.usage = completion.usage;
  return { raw, completion };
}

export interface StreamOptions {
  /** Response headers besides content type and the ones already set on the reply (x-request-id…). */
  readonly headers: Readonly<Record<string, string>>;
  /** Shape of the error event that ends a broken stream. */
  readonly errorShape: ErrorShape;
  readonly onEvent: (event: SseEvent) => SseEventAction;
  /** Text written after a clean end (final event, router comment, `data: [DONE]`). */
  readonly tail: () => string;
  /**
   * Runs once the relay is over (clean end, truncated, or client gone; `state.truncatedReason` set) and
   * before the final event / `[DONE]` or the error event is written: the request's usage record is made
   * durable here. When it rejects (outbox unavailable) the stream ends with that error's event instead of a
   * clean end, so no stream completes unaccounted. `statusCode`: 200 (the stream's status), 499 when the
   * client left.
   */
  readonly beforeEnd: (statusCode: number) => Promise<void>;
}

/**
 * Streams the upstream SSE response to the client (the reply is hijacked: fastify sends nothing more).
 * Never throws. A clean end gets `tail()`; a stream cut short gets an error event (rendered by the one
 * error renderer) and never a clean end, and is counted as truncated; a client that left just ends it.
 */
export async function streamToClient(
  deps: InferenceHandlerDeps,
  session: InferenceSession,
  success: UpstreamSuccess,
  request: FastifyRequest,
  reply: FastifyReply,
  options: StreamOptions,
): Promise<void> {
  if (success.kind !== 'stream') throw new Error('streamToClient needs a streamed answer (stream: true)');
  const { state, requestSignal } = session;
  const raw = reply.raw;
  reply.hijack();
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    ...options.headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  raw.flushHeaders();
  const { response } = success;
  // Only a response that says JSON takes the detour: a real stream is relayed from its body as is.
  const source = isJsonResponse(response.headers)
    ? wholeCompletionAsStream(
        response.body,
        deps.adapterFor(success.target.backend),
        deps.maxUpstreamResponseBytes,
      )
    : response.body;
  const outcome = await relaySse({
    source,
    destination: raw,
    signal: requestSignal,
    maxBytes: deps.maxUpstreamResponseBytes,
    onEvent: options.onEvent,
    timers: deps.timers,
  });
  finishAttempt(deps, state, success.target.backend.id);
  success.endTrace(outcome.kind === 'truncated' ? outcome.error : undefined);
  if (outcome.kind === 'client_closed') {
    raw.destroy();
    await endRecorded(options, request, CLIENT_CLOSED_STATUS);
    return;
  }
  if (outcome.kind === 'truncated') {
    state.truncatedReason = outcome.reason;
    deps.metrics.streamsTruncatedTotal.inc({ route: state.routeId ?? 'none', reason: outcome.reason });
    request.log.warn(
      { reason: outcome.reason, backendId: state.backendId, err: outcome.error.cause },
      'stream truncated',
    );
  }
  const recordError = await endRecorded(options, request, 200);
  const endError = recordError ?? (outcome.kind === 'truncated' ? outcome.error : undefined);
  const tail =
    endError === undefined
      ? options.tail()
      : `data: ${JSON.stringify(renderErrorBody(toRouterError(endError), request.id, options.errorShape))}\n\n`;
  if (await write(raw, tail, requestSignal)) raw.end();
  else raw.destroy();
}

/** Runs `beforeEnd`; its failure is returned (and logged), never thrown: the stream must still end. */
async function endRecorded(
  options: StreamOptions,
  request: FastifyRequest,
  statusCode: number,
): Promise<unknown> {
  try {
    await options.beforeEnd(statusCode);
    return undefined;
  } catch (error: unknown) {
    request.log.error({ err: error }, 'stream could not be recorded; ending it with an error');
    return error;
  }
}
