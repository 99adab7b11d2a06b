import type { Principal } from '../auth/principal.js';
import type { TokenCounts } from '../upstream/adapters/provider-adapter.js';
import type { RequestSignal } from './request-signal.js';

/** What one inference API request learned on its way, for its response metrics and the request metrics. */
export interface InferenceRequestState {
  /** Monotonic milliseconds (performance.now) when the request arrived. */
  readonly startedAtMs: number;
  /**
   * Exact request body bytes (signatures cover them) from the body's arrival until it is authenticated and
   * parsed, then undefined (and undefined without a body): nothing later reads them, and a request's
   * objects are copied at every scavenge while it is in flight.
   */
  rawBody: Buffer | undefined;
  principal: Principal | undefined;
  routeId: string | undefined;
  backendId: string | undefined;
  policyVersion: bigint;
  /** Milliseconds spent waiting in the fair queue for admission (0 when admitted at once). */
  queueMs: number;
  /** A backend answered 2xx: the request consumed tokens, so its reservation is settled (not released). */
  responded: boolean;
  /** Upstream attempts made (first try + retries). */
  attempts: number;
  /** Sum of the durations of finished upstream attempts, in ms. */
  upstreamMs: number;
  /** Start of the upstream attempt in progress, monotonic ms; undefined when none is in progress. */
  attemptStartedAtMs: number | undefined;
  /** Streams: when the first content chunk went to the client, monotonic ms. */
  firstTokenAtMs: number | undefined;
  usage: TokenCounts | undefined;
  /** Streams: why the stream ended without a clean end; undefined when it did not. */
  truncatedReason: string | undefined;
  /** The request metrics were recorded (once per request). */
  recorded: boolean;
  /** Still counted among the running requests that shutdown waits for (RunningRequests). */
  counted: boolean;
  /**
   * The open session's signal, which the response's close listener aborts when the client leaves before
   * its answer (one listener per request does both jobs); undefined before the session opens and after
   * it ends.
   */
  requestSignal: RequestSignal | undefined;
}

export function createRequestState(startedAtMs: number): InferenceRequestState {
  return {
    startedAtMs,
    rawBody: undefined,
    principal: undefined,
    routeId: undefined,
    backendId: undefined,
    policyVersion: 0n,
    queueMs: 0,
    responded: false,
    attempts: 0,
    upstreamMs: 0,
    attemptStartedAtMs: undefined,
    firstTokenAtMs: undefined,
    usage: undefined,
    truncatedReason: undefined,
    recorded: false,
    counted: false,
    requestSignal: undefined,
  };
}

/** Router-measured timings of a request at `nowMs` (monotonic), in milliseconds. */
export interface RouterTimings {
  readonly totalMs: number;
  readonly upstreamMs: number;
  readonly overheadMs: number;
  /** Time waiting in the fair queue for admission. */
  readonly queueMs: number;
  /** Streams: arrival to first content; undefined otherwise or before it. */
  readonly timeToFirstTokenMs: number | undefined;
}

export function routerTimings(state: InferenceRequestState, nowMs: number): RouterTimings {
  const totalMs = nowMs - state.startedAtMs;
  const inFlightMs = state.attemptStartedAtMs === undefined ? 0 : nowMs - state.attemptStartedAtMs;
  const upstreamMs = Math.min(totalMs, state.upstreamMs + inFlightMs);
  return {
    totalMs,
    upstreamMs,
    // Queue time is waiting for the client's own limits, not work of the router.
    overheadMs: Math.max(0, totalMs - upstreamMs - state.queueMs),
    queueMs: state.queueMs,
    timeToFirstTokenMs:
      state.firstTokenAtMs === undefined ? undefined : state.firstTokenAtMs - state.startedAtMs,
  };
}
