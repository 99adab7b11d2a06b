import type { FastifyReply, FastifyRequest } from 'fastify';
import { startAdmittedCall } from '../inference/admitted-call.js';
import type { UpstreamSuccess } from '../inference/call-upstream.js';
import {
  openSession,
  type InferenceHandlerDeps,
  type InferenceSession,
} from '../inference/inference-session.js';
import { routerHeaders, routerMetricsJson } from '../inference/router-headers.js';
import { routerTimings } from '../inference/request-state.js';
import type { SseEvent } from '../inference/sse-event-parser.js';
import type { SseEventAction } from '../inference/sse-relay.js';
import { readCompletion, streamToClient } from '../inference/upstream-response.js';
import type { RequestUsage } from '../records/request-usage.js';
import type { ChatCompletionBody } from './chat-completion-schema.js';

/**
 * POST /v1/chat/completions, OpenAI-compatible: the body goes to the backend as sent (model replaced by the
 * target's upstream model, plus an output cap when the request sets none and its limits charge tokens) and
 * the backend's answer comes back as sent, JSON or SSE, so OpenAI clients work unchanged. Router metrics
 * travel as `x-router-*` headers; a stream's final figures come as an SSE comment (`: router {...}`, ignored
 * by SSE clients) just before `data: [DONE]`. A stream that did not ask for usage does not get the usage
 * chunk the router asks the backend for.
 */
export function createChatCompletionsHandler(deps: InferenceHandlerDeps) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const body = request.body as ChatCompletionBody;
    const session = await openSession(deps, request, reply, {
      model: body.model,
      messages: body.messages,
      promptFields: [body.tools, body.functions, body.response_format],
      maxOutputTokens: outputLimit(body),
      choices: typeof body.n === 'number' ? body.n : 1,
    });
    // A request without an output limit gets the one its reservation assumed, so it cannot cost more. It
    // goes in the field the target's backend takes (a failover may change backend), see outputLimitParam.
    const cap = session.admission.outputCap;
    const stream = body.stream === true;
    const call = startAdmittedCall(deps, session, request, {
      model: body.model,
      stream,
      bodyFor: (target) =>
        JSON.stringify(deps.adapterFor(target.backend).chatBodyFromOpenAI(body, target, cap)),
    });
    const usage = call.usage;
    try {
      const success = await call.upstream();
      if (stream) {
        const clientWantsUsage = body.stream_options?.include_usage === true;
        await streamChat(deps, session, success, request, reply, { clientWantsUsage, usage });
        return reply;
      }
      const { raw } = readCompletion(deps, session, success);
      await usage.record(200);
      reply.headers(routerHeaders(session.state, routerTimings(session.state, deps.now())));
      return await reply.type('application/json').send(raw);
    } catch (error: unknown) {
      await usage.recordFailure(error);
      throw error;
    } finally {
      session.end();
    }
  };
}

async function streamChat(
  deps: InferenceHandlerDeps,
  session: InferenceSession,
  success: UpstreamSuccess,
  request: FastifyRequest,
  reply: FastifyReply,
  options: { clientWantsUsage: boolean; usage: RequestUsage },
): Promise<void> {
  const { clientWantsUsage } = options;
  const adapter = deps.adapterFor(success.target.backend);
  const { state } = session;
  const onEvent = (event: SseEvent): SseEventAction => {
    if (event.data === undefined) return event.raw;
    if (adapter.isStreamEnd(event.data)) return { end: true };
    const chunk = adapter.parseStreamData(event.data);
    if (chunk === undefined) return event.raw;
    if (chunk.upstreamError) return { upstreamError: event.data };
    if (chunk.usage !== undefined) state.usage = chunk.usage;
    if (chunk.usageOnly && !clientWantsUsage) return '';
    if (chunk.generatesOutput) state.firstTokenAtMs ??= deps.now();
    return event.raw;
  };
  const tail = (): string => {
    const metrics = routerMetricsJson(request.id, state, routerTimings(state, deps.now()));
    return `: router ${JSON.stringify(metrics)}\n\ndata: [DONE]\n\n`;
  };
  await streamToClient(deps, session, success, request, reply, {
    headers: routerHeaders(state, routerTimings(state, deps.now())),
    errorShape: 'openai',
    onEvent,
    tail,
    beforeEnd: (statusCode) => options.usage.record(statusCode),
  });
}

/**
 * The request's output limit per choice: the larger of max_completion_tokens and max_tokens when both are
 * set (both go upstream, and the backend may honour either: reserving for the smaller would let it spend
 * past the reservation); undefined when neither is.
 */
export function outputLimit(body: Readonly<Record<string, unknown>>): number | undefined {
  const completion = typeof body.max_completion_tokens === 'number' ? body.max_completion_tokens : undefined;
  const tokens = typeof body.max_tokens === 'number' ? body.max_tokens : undefined;
  if (completion === undefined || tokens === undefined) return completion ?? tokens;
  return Math.max(completion, tokens);
}
