import { afterEach, describe, expect, it, vi } from 'vitest';
import { AuditEventKind } from '@api-router/contracts';
import { LIMIT_KEYS } from './limits-policy.test-support.js';
import {
  T0,
  input,
  messages,
  rejection,
  setup,
  unreachableStore,
} from './admission-controller.test-support.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('admission decisions', () => {
  it('admits a key without limits without touching the store', async () => {
    const store = unreachableStore();
    const { controller } = setup({ store });
    const admission = await controller.admit(input(LIMIT_KEYS.free));
    expect(admission.headers).toEqual({});
    admission.finish({ responded: false });
    expect(store.calls).toBe(0);
  });

  it('answers a rate denial with 429, Retry-After, headers and one RATE_LIMITED audit event', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller, audits, metricsText } = setup();
    const first = input(LIMIT_KEYS.rate);
    const admission = await controller.admit(first);
    expect(first.headers).toMatchObject({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '1',
    });
    await controller.admit(input(LIMIT_KEYS.rate));
    const third = input(LIMIT_KEYS.rate);
    const error = await rejection(controller.admit(third));
    expect(error.status).toBe(429);
    expect(error.retryAfterSeconds).toBe(1);
    expect(third.headers).toMatchObject({
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '2s',
    });
    expect(audits).toHaveLength(1);
    expect(audits[0]).toMatchObject({
      kind: AuditEventKind.RATE_LIMITED,
      requestId: `req-${LIMIT_KEYS.rate}`,
      tenantId: 'acme',
      keyPublicId: LIMIT_KEYS.rate,
      reasonCode: `key:${LIMIT_KEYS.rate}`,
      attributes: {
        decision: 'denied',
        status: '429',
        limit: '60',
        remaining: '0',
        retry_after_seconds: '1',
      },
    });
    expect(audits[0]?.attributes?.admission_id).toMatch(/^req-rk_rate01~\d+$/);
    expect(await metricsText()).toContain('router_limit_decisions_total{kind="requests",outcome="denied"} 1');
    admission.finish({ responded: false });
  });

  it('answers a budget denial with 402 and the budget’s numbers; settlement frees what was not used', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller, audits, store, metricsText } = setup();
    const ref = { partition: 'acme', id: `key:${LIMIT_KEYS.budget}:total` };
    // Reservation: 8 input tokens (estimate) + 10 output tokens × 2 = 28 micros; the budget is 100.
    const admissions = [];
    for (let index = 0; index < 3; index += 1)
      admissions.push(await controller.admit(input(LIMIT_KEYS.budget)));
    expect(await store.getBudget(ref)).toMatchObject({ reservedMicros: 84, spentMicros: 0 });
    const error = await rejection(controller.admit(input(LIMIT_KEYS.budget)));
    expect(error.status).toBe(402);
    expect(error.details).toMatchObject({
      budget: ref.id,
      remaining_micros: 16,
      limit_micros: 100,
      resets_at: null,
    });
    expect(audits.map((event) => event.kind)).toEqual([AuditEventKind.BUDGET_DENIED]);
    expect(audits[0]?.attributes).toMatchObject({ status: '402', limit_kind: 'budget', remaining: '16' });

    admissions[0]!.finish({
      responded: true,
      backendId: 'mock-a',
      usage: { inputTokens: 1, outputTokens: 10 },
    });
    admissions[1]!.finish({ responded: false });
    admissions[1]!.finish({
      responded: true,
      backendId: 'mock-a',
      usage: { inputTokens: 1, outputTokens: 10 },
    });
    admissions[2]!.finish({ responded: true, backendId: 'mock-a', usage: undefined });
    await controller.close();
    // 21 (real) + 0 (released) + 28 (no usage reported: the reservation is charged).
    expect(await store.getBudget(ref)).toMatchObject({ reservedMicros: 0, spentMicros: 49 });
    const text = await metricsText();
    expect(text).toContain('router_reservations_open 0');
    expect(text).toContain('router_settlements_total{operation="settle",outcome="settled"} 2');
    expect(text).toContain('router_settlements_total{operation="release",outcome="released"} 1');
    expect(text).toContain('router_settlement_drift_micros_sum 7');
  });

  it('ends the reservation of a request whose backend reported unusable usage numbers', async () => {
    const { controller, store } = setup();
    const ref = { partition: 'money', id: `tenant:money:daily` };
    const held = await controller.admit(input(LIMIT_KEYS.tenantBudget));
    // A misbehaving backend: a negative or fractional token count is no usage the stores can charge.
    held.finish({ responded: true, backendId: 'mock-a', usage: { inputTokens: -1, outputTokens: 2.5 } });
    await controller.close();
    // Charged like a backend that reported no usage (the reservation, 28 micros), not left open until its TTL.
    expect(await store.getBudget(ref)).toMatchObject({ reservedMicros: 0, spentMicros: 28 });
  });

  it('answers a concurrency denial without a queue policy with 429 at once', async () => {
    const { controller, audits } = setup();
    const held = await controller.admit(input(LIMIT_KEYS.concNoQueue));
    const error = await rejection(controller.admit(input(LIMIT_KEYS.concNoQueue)));
    expect(error.status).toBe(429);
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(audits[0]).toMatchObject({
      kind: AuditEventKind.RATE_LIMITED,
      attributes: { limit_kind: 'concurrency' },
    });
    held.finish({ responded: false });
    await controller.close();
  });

  it('bounds the output of a request that sets none when tokens or money are charged', async () => {
    const { controller } = setup();
    const capped = await controller.admit(
      input(LIMIT_KEYS.tenantBudget, { cost: { model: 'demo-chat', messages, maxOutputTokens: undefined } }),
    );
    expect(capped.outputCap).toBe(50);
    const uncapped = await controller.admit(
      input(LIMIT_KEYS.rate, { cost: { model: 'demo-chat', messages, maxOutputTokens: undefined } }),
    );
    expect(uncapped.outputCap).toBeUndefined();
    capped.finish({ responded: false });
    uncapped.finish({ responded: false });
    await controller.close();
  });
});

describe('the fair queue in admission', () => {
  it('queues a concurrency denial and admits it when the slot frees, audited QUEUED then QUEUE_ADMITTED', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller, audits, metricsText } = setup();
    const held = await controller.admit(input(LIMIT_KEYS.conc));
    const waiting = controller.admit(input(LIMIT_KEYS.conc, { requestId: 'req-queued' }));
    await vi.advanceTimersByTimeAsync(30);
    expect(audits.map((event) => event.kind)).toEqual([AuditEventKind.QUEUED]);
    expect(await metricsText()).toContain('router_queue_length 1');
    held.finish({ responded: false });
    const admitted = await waiting;
    expect(admitted.queueMs).toBe(30);
    expect(audits.map((event) => event.kind)).toEqual([AuditEventKind.QUEUED, AuditEventKind.QUEUE_ADMITTED]);
    expect(audits[1]).toMatchObject({ requestId: 'req-queued', attributes: { waited_ms: '30' } });
    admitted.finish({ responded: false });
    await controller.close();
    expect(await metricsText()).toContain(
      'router_limit_decisions_total{kind="concurrency",outcome="queue_admitted"} 1',
    );
  });

  it('answers 429 with Retry-After after the max wait, audited QUEUE_TIMED_OUT', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller, audits } = setup();
    const held = await controller.admit(input(LIMIT_KEYS.conc));
    const waiting = rejection(controller.admit(input(LIMIT_KEYS.conc)));
    await vi.advanceTimersByTimeAsync(500);
    const error = await waiting;
    expect(error.status).toBe(429);
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(audits.map((event) => event.kind)).toEqual([
      AuditEventKind.QUEUED,
      AuditEventKind.QUEUE_TIMED_OUT,
    ]);
    held.finish({ responded: false });
    await controller.close();
  });

  it('answers 429 at once when the key’s queue is full', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller, audits } = setup();
    const held = await controller.admit(input(LIMIT_KEYS.conc));
    const waits = [controller.admit(input(LIMIT_KEYS.conc)), controller.admit(input(LIMIT_KEYS.conc))];
    await vi.advanceTimersByTimeAsync(0);
    const error = await rejection(controller.admit(input(LIMIT_KEYS.conc)));
    expect(error.status).toBe(429);
    expect(audits.at(-1)).toMatchObject({
      kind: AuditEventKind.RATE_LIMITED,
      attributes: { queue_full: 'key' },
    });
    held.finish({ responded: false });
    for (const admission of await Promise.all(waits.slice(0, 1))) admission.finish({ responded: false });
    const second = await waits[1]!;
    second.finish({ responded: false });
    await controller.close();
  });

  it('leaves the queue with the signal’s reason when the client disconnects', async () => {
    vi.useFakeTimers({ now: T0 });
    const { controller } = setup();
    const held = await controller.admit(input(LIMIT_KEYS.conc));
    const disconnect = new AbortController();
    const waiting = controller.admit(input(LIMIT_KEYS.conc, { signal: disconnect.signal })).then(
      () => 'admitted',
      (reason: unknown) => reason,
    );
    await vi.advanceTimersByTimeAsync(10);
    const reason = new Error('client closed');
    disconnect.abort(reason);
    expect(await waiting).toBe(reason);
    held.finish({ responded: false });
    await controller.close();
  });
});
