import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { buildDeltaChunk, buildUsageChunk } from './chat-completion-wire.js';
import type { CompletionPlan } from './completion-plan.js';
import { writeAndFlush, writeWithBackpressure } from './raw-response-writes.js';
import type { RequestFaults } from './request-faults.js';
import type { Sleep } from './sleep.js';

/** The terminating SSE event of an OpenAI stream. */
export const SSE_DONE = 'data: [DONE]\n\n';

/** One SSE event carrying a JSON payload. */
export function formatSseData(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

export interface StreamWriteOptions {
  plan: CompletionPlan;
  faults: RequestFaults;
  /** Headers already set on the reply (identity header…), sent with the SSE headers. */
  headers: OutgoingHttpHeaders;
  sleep: Sleep;
  /** Aborts when the client goes away; pending delays and writes then reject. */
  signal: AbortSignal;
}

/**
 * Writes a completion as an OpenAI SSE stream: a role chunk, one chunk per content piece, a chunk with the
 * finish reason, a usage chunk (always), then `[DONE]`. With `truncateAfter` set it destroys the connection
 * after that many content chunks (or after the last one), never sending the finish chunk, usage or `[DONE]`.
 * Rejects with an AbortError if the client goes away during a delay or a blocked write.
 */
export async function writeCompletionStream(
  response: ServerResponse,
  options: StreamWriteOptions,
): Promise<void> {
  const { plan, faults, sleep, signal } = options;
  response.writeHead(200, {
    ...options.headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  const truncating = faults.truncateAfter !== undefined;
  const paced = faults.firstByteDelayMs > 0 || faults.chunkDelayMs > 0 || truncating;
  if (paced) response.flushHeaders();
  // Unpaced (the benchmark path): everything is written corked and goes out in one socket write at end().
  // No waiting for 'drain' there: a corked socket never drains, and the whole stream is only
  // ~200 bytes per token, bounded by the request's token limit.
  else response.cork();
  const write = !paced
    ? (data: string) => void response.write(data)
    : truncating
      ? (data: string) => writeAndFlush(response, data)
      : (data: string) => writeWithBackpressure(response, data, signal);

  if (faults.firstByteDelayMs > 0) await sleep(faults.firstByteDelayMs, signal);
  await write(formatSseData(buildDeltaChunk(plan, { role: 'assistant', content: '' })));
  const contentChunks = truncating
    ? Math.min(faults.truncateAfter ?? 0, plan.pieces.length)
    : plan.pieces.length;
  for (let index = 0; index < contentChunks; index += 1) {
    if (index > 0 && faults.chunkDelayMs > 0) await sleep(faults.chunkDelayMs, signal);
    await write(formatSseData(buildDeltaChunk(plan, { content: plan.pieces[index] ?? '' })));
  }
  if (truncating) {
    response.destroy();
    return;
  }
  await write(formatSseData(buildDeltaChunk(plan, {}, plan.finishReason)));
  await write(formatSseData(buildUsageChunk(plan)));
  response.end(SSE_DONE);
}
