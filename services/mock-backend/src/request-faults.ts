import type { IncomingHttpHeaders } from 'node:http';
import type { FaultSettings } from './config.js';
import { OpenAIError } from './openai-error.js';
import type { Sleep } from './sleep.js';

/** The faults one request gets: the instance settings, overridden by its `x-mock-*` headers. */
export interface RequestFaults extends FaultSettings {
  /** `x-mock-status`: answer with this status (400–599) and an OpenAI error body. */
  forcedStatus: number | undefined;
  /** `x-mock-truncate-after`: stream: drop the connection after N content chunks; JSON: after N body bytes. */
  truncateAfter: number | undefined;
  /**
   * `x-mock-ignore-stream: 1`: answer a `stream: true` request with a whole JSON completion, as servers (and
   * proxies) that drop the `stream` flag do.
   */
  ignoreStream: boolean;
  /**
   * `x-mock-stream-always: 1`: answer a request without `stream: true` with a stream, as servers that stream
   * by default (or drop the flag) do. `x-mock-ignore-stream` wins when both are set.
   */
  streamAlways: boolean;
}

/** Request headers that override fault settings, by setting name. */
export const FAULT_HEADERS = Object.freeze({
  latencyMs: 'x-mock-latency-ms',
  firstByteDelayMs: 'x-mock-first-byte-delay-ms',
  chunkDelayMs: 'x-mock-chunk-delay-ms',
  errorRate: 'x-mock-error-rate',
  outputTokens: 'x-mock-output-tokens',
  forcedStatus: 'x-mock-status',
  truncateAfter: 'x-mock-truncate-after',
  ignoreStream: 'x-mock-ignore-stream',
  streamAlways: 'x-mock-stream-always',
});

/**
 * Merges a request's `x-mock-*` headers over the instance settings.
 * Throws {@link OpenAIError} 400 (code "invalid_mock_header") on a malformed header, so a typo in a test
 * fails loudly instead of silently running without the fault.
 */
export function resolveRequestFaults(settings: FaultSettings, headers: IncomingHttpHeaders): RequestFaults {
  return {
    latencyMs: readInteger(headers, FAULT_HEADERS.latencyMs, 0) ?? settings.latencyMs,
    firstByteDelayMs: readInteger(headers, FAULT_HEADERS.firstByteDelayMs, 0) ?? settings.firstByteDelayMs,
    chunkDelayMs: readInteger(headers, FAULT_HEADERS.chunkDelayMs, 0) ?? settings.chunkDelayMs,
    errorRate: readRate(headers, FAULT_HEADERS.errorRate) ?? settings.errorRate,
    outputTokens: readInteger(headers, FAULT_HEADERS.outputTokens, 0) ?? settings.outputTokens,
    forcedStatus: readInteger(headers, FAULT_HEADERS.forcedStatus, 400, 599),
    truncateAfter: readInteger(headers, FAULT_HEADERS.truncateAfter, 0),
    ignoreStream: readInteger(headers, FAULT_HEADERS.ignoreStream, 0, 1) === 1,
    streamAlways: readInteger(headers, FAULT_HEADERS.streamAlways, 0, 1) === 1,
  };
}

export interface PreResponseFaultDeps {
  sleep: Sleep;
  /** Uniform random number in [0, 1); decides error-rate failures. */
  random: () => number;
}

/**
 * Applies the faults that happen before any response byte: latency, then a forced status, then an
 * error-rate failure (500). Throws {@link OpenAIError} for the last two; rejects if `signal` aborts.
 */
export async function applyPreResponseFaults(
  faults: RequestFaults,
  deps: PreResponseFaultDeps,
  signal?: AbortSignal,
): Promise<void> {
  if (faults.latencyMs > 0) await deps.sleep(faults.latencyMs, signal);
  if (faults.forcedStatus !== undefined) {
    throw new OpenAIError(
      faults.forcedStatus,
      `Mock backend forced status ${faults.forcedStatus} (${FAULT_HEADERS.forcedStatus}).`,
      {
        code: 'mock_forced_status',
      },
    );
  }
  // Only draw when a failure is possible, so a test's scripted random sequence is consumed predictably.
  if (faults.errorRate > 0 && deps.random() < faults.errorRate) {
    throw new OpenAIError(500, 'Mock backend injected a failure (error rate).', {
      code: 'mock_injected_error',
    });
  }
}

function readHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function readInteger(
  headers: IncomingHttpHeaders,
  name: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const raw = readHeader(headers, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new OpenAIError(400, `${name} must be an integer in [${min}, ${max}], got "${raw}".`, {
      code: 'invalid_mock_header',
      param: name,
    });
  }
  return value;
}

function readRate(headers: IncomingHttpHeaders, name: string): number | undefined {
  const raw = readHeader(headers, name);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new OpenAIError(400, `${name} must be a number in [0, 1], got "${raw}".`, {
      code: 'invalid_mock_header',
      param: name,
    });
  }
  return value;
}
