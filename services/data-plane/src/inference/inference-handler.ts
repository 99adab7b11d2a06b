import { create, toJson, type JsonObject } from '@bufbuild/protobuf';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InferenceResponseSchema, type InferenceRequest } from '@api-router/contracts';
import type { Completion } from '../upstream/adapters/provider-adapter.js';
import { startAdmittedCall } from './admitted-call.js';
import type { UpstreamSuccess } from './call-upstream.js';
import { openSession, type InferenceHandlerDeps, type InferenceSession } from './inference-session.js';
import { parseInferenceRequest } from './parse-inference-request.js';
import { formatMs, roundMs } from './router-headers.js';
import { routerTimings } from './request-state.js';
import type { SseEvent } from './sse-event-parser.js';
import type { SseEventAction } from './sse-relay.js';
import { readCompletion, streamToClient } from './upstream-response.js';
import type { RequestUsage } from '../records/request-usage.js';

/**
 * POST /v1/inference: the router's own API (router.v1.InferenceRequest → InferenceResponse, JSON with
 * snake_case names). With `stream: true` the answer is SSE: one InferenceResponse-shaped event per content
 * delta (`output.content` holds the delta), then a final event with `finish_reason`, `usage` and `router`,
 * then `data: [DONE]`. A stream that breaks ends with `data: {"error": {...}}` instead, never `[DONE]`.
 */
export function createInferenceHandler(deps: InferenceHandlerDeps) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const inference = parseInferenceRequest(request.body);
    const session = await openSession(deps, request, reply, {
      model: inference.model,
      messages: inference.messages,
      maxOutputTokens: inference.maxOutputTokens,
    });
    const cap = session.admission.outputCap;
    // A request without an output limit gets the one its reservation assumed, so it cannot cost more. The
    // adapter puts either limit in the field the target's backend takes (see outputLimitParam).
    const upstreamInference = cap === undefined ? inference : { ...inference, maxOutputTokens: cap };
    const call = startAdmittedCall(deps, session, request, {
      model: inference.model,
      stream: inference.stream,
      bodyFor: (target) =>
        JSON.stringify(deps.adapterFor(target.backend).chatBodyFromInference(upstreamInference, target)),
    });
    const usage = call.usage;
    try {
      const success = await call.upstream();
      if (inference.stream) {
        await streamInference(deps, session, success, request, reply, { inference, usage });
        return reply;
      }
      const { completion } = readCompletion(deps, session, success);
      await usage.record(200);
      const body = inferenceResponse(deps, session, request.id, inference, completion);
      reply.header('x-router-overhead-ms', formatMs(Number(body.router?.overhead_ms ?? 0)));
      return await reply.type('application/json; charset=utf-8').send(body);
    } catch (error: unknown) {
      await usage.recordFailure(error);
      throw error;
    } finally {
      session.end();
    }
  };
}

interface InferenceResponseJson extends JsonObject {
  router: JsonObject;
}

function inferenceResponse(
  deps: InferenceHandlerDeps,
  session: InferenceSession,
  requestId: string,
  inference: InferenceRequest,
  completion: Pick<Completion, 'id' | 'content' | 'role' | 'finishReason' | 'model'>,
): InferenceResponseJson {
  const { state } = session;
  const timings = routerTimings(state, deps.now());
  const message = create(InferenceResponseSchema, {
    id: completion.id,
    model: inference.model,
    output: { role: completion.role, content: completion.content },
    finishReason: completion.finishReason,
    usage: {
      inputTokens: BigInt(state.usage?.inputTokens ?? 0),
      outputTokens: BigInt(state.usage?.outputTokens ?? 0),
    },
    router: {
      requestId,
      routeId: state.routeId ?? '',
      backendId: state.backendId ?? '',
      attempts: state.attempts,
      totalMs: roundMs(timings.totalMs),
      upstreamMs: roundMs(timings.upstreamMs),
      overheadMs: roundMs(timings.overheadMs),
      queueMs: roundMs(timings.queueMs),
      timeToFirstTokenMs: roundMs(timings.timeToFirstTokenMs ?? 0),
      policyVersion: state.policyVersion,
    },
  });
  return toJson(InferenceResponseSchema, message, {
    useProtoFieldName: true,
    alwaysEmitImplicit: true,
  }) as InferenceResponseJson;
}

async function streamInference(
  deps: InferenceHandlerDeps,
  session: InferenceSession,
  success: UpstreamSuccess,
  request: FastifyRequest,
  reply: FastifyReply,
  options: { inference: InferenceRequest; usage: RequestUsage },
): Promise<void> {
  const { inference } = options;
  const adapter = deps.adapterFor(success.target.backend);
  const { state } = session;
  let id = '';
  let finishReason = '';
  const onEvent = (event: SseEvent): SseEventAction => {
    if (event.data === undefined) return '';
    if (adapter.isStreamEnd(event.data)) return { end: true };
    const chunk = adapter.parseStreamData(event.data);
    if (chunk === undefined) return '';
    if (chunk.upstreamError) return { upstreamError: event.data };
    id ||= chunk.id ?? '';
    finishReason = chunk.finishReason ?? finishReason;
    if (chunk.usage !== undefined) state.usage = chunk.usage;
    if (chunk.generatesOutput) state.firstTokenAtMs ??= deps.now();
    if (chunk.contentDelta === '') return '';
    const delta = { id, model: inference.model, output: { role: 'assistant', content: chunk.contentDelta } };
    return `data: ${JSON.stringify(delta)}\n\n`;
  };
  const tail = (): string => {
    const final = inferenceResponse(deps, session, request.id, inference, {
      id,
      model: inference.model,
      role: 'assistant',
      content: '',
      finishReason,
    });
    return `data: ${JSON.stringify(final)}\n\ndata: [DONE]\n\n`;
  };
  await streamToClient(deps, session, success, request, reply, {
    headers: { 'x-router-overhead-ms': formatMs(routerTimings(state, deps.now()).overheadMs) },
    errorShape: 'router',
    onEvent,
    tail,
    beforeEnd: (statusCode) => options.usage.record(statusCode),
  });
}
