import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from '@api-router/observability';
import { buildChatCompletion } from '../chat-completion-wire.js';
import { parseChatRequest } from '../chat-request.js';
import { planCompletion, type CompletionPlan } from '../completion-plan.js';
import { needsPacedJsonBody, writePacedJsonBody } from '../json-body-writer.js';
import type { MockBackendState } from '../mock-backend-state.js';
import { abortSignalOnClose } from '../raw-response-writes.js';
import { applyPreResponseFaults, resolveRequestFaults, type RequestFaults } from '../request-faults.js';
import type { Sleep } from '../sleep.js';
import { writeCompletionStream } from '../sse-stream-writer.js';

export interface ChatCompletionsRouteDeps {
  id: string;
  state: MockBackendState;
  logger: Logger;
  sleep: Sleep;
  random: () => number;
  nowMs: () => number;
}

/** `POST /v1/chat/completions`: deterministic completions, JSON or SSE, with the request's faults applied. */
export function registerChatCompletionsRoute(app: FastifyInstance, deps: ChatCompletionsRouteDeps): void {
  let sequence = 0;
  app.post('/v1/chat/completions', async (request, reply) => {
    const faults = resolveRequestFaults(deps.state.faults(), request.headers);
    const signal = faults.latencyMs > 0 ? abortSignalOnClose(reply.raw) : undefined;
    await applyPreResponseFaults(faults, deps, signal);
    const chatRequest = parseChatRequest(request.body);
    sequence += 1;
    const plan = planCompletion(chatRequest, faults.outputTokens, {
      id: `chatcmpl-${deps.id}-${sequence}`,
      createdSeconds: Math.floor(deps.nowMs() / 1000),
    });
    const stream = (chatRequest.stream || faults.streamAlways) && !faults.ignoreStream;
    if (stream) return streamResponse(reply, plan, faults, deps);
    if (needsPacedJsonBody(faults)) return pacedJsonResponse(reply, buildChatCompletion(plan), faults, deps);
    return buildChatCompletion(plan);
  });
}

async function streamResponse(
  reply: FastifyReply,
  plan: CompletionPlan,
  faults: RequestFaults,
  deps: ChatCompletionsRouteDeps,
): Promise<void> {
  reply.hijack();
  const signal = abortSignalOnClose(reply.raw);
  await writeRawSafely(reply, deps.logger, signal, () =>
    writeCompletionStream(reply.raw, {
      plan,
      faults,
      headers: reply.getHeaders() as OutgoingHttpHeaders,
      sleep: deps.sleep,
      signal,
    }),
  );
}

async function pacedJsonResponse(
  reply: FastifyReply,
  body: unknown,
  faults: RequestFaults,
  deps: ChatCompletionsRouteDeps,
): Promise<void> {
  reply.hijack();
  const signal = abortSignalOnClose(reply.raw);
  await writeRawSafely(reply, deps.logger, signal, () =>
    writePacedJsonBody(reply.raw, {
      status: 200,
      body,
      faults,
      headers: reply.getHeaders() as OutgoingHttpHeaders,
      sleep: deps.sleep,
      signal,
    }),
  );
}

/** After hijack() fastify's error handler can no longer answer, so failures end here. */
async function writeRawSafely(
  reply: FastifyReply,
  logger: Logger,
  signal: AbortSignal,
  write: () => Promise<void>,
): Promise<void> {
  try {
    await write();
  } catch (error: unknown) {
    // The client going away mid-response is normal for a backend (router timeouts, cancelled streams).
    if (signal.aborted) return;
    logger.warn({ err: error }, 'writing a response failed');
    reply.raw.destroy();
  }
}
