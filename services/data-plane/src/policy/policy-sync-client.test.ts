import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import {
  PolicyApplyOutcome,
  WatchPolicyResponseSchema,
  type PolicySnapshot,
  type ReportPolicyStatusRequest,
  type WatchPolicyRequest,
} from '@api-router/contracts';
import { createMetricsRegistry } from '@api-router/observability';
import { captureLogs } from '../../test/support/captured-logs.js';
import { ManualTime } from '../../test/support/manual-time.js';
import { createTestSnapshot } from '../../test/support/policy-snapshot-fixture.js';
import { createPolicyMetrics, type PolicyMetrics } from '../metrics/policy-metrics.js';
import {
  MIN_SILENCE_BEFORE_RECONNECT_MS,
  PolicySyncClient,
  SILENT_HEARTBEATS_BEFORE_RECONNECT,
} from './policy-sync-client.js';
import type { PolicySyncTransport, WatchPolicyHandlers } from './policy-sync-transport.js';

interface FakeCall {
  request: WatchPolicyRequest;
  handlers: WatchPolicyHandlers;
  cancelled: boolean;
}

/** A hand-written transport: the test plays the control plane by calling each call's handlers. */
class FakeTransport implements PolicySyncTransport {
  readonly calls: FakeCall[] = [];
  readonly reports: ReportPolicyStatusRequest[] = [];
  failReports = false;
  closed = false;

  watchPolicy(request: WatchPolicyRequest, handlers: WatchPolicyHandlers) {
    const call: FakeCall = { request, handlers, cancelled: false };
    this.calls.push(call);
    return {
      cancel: () => {
        call.cancelled = true;
      },
    };
  }

  reportPolicyStatus(request: ReportPolicyStatusRequest): Promise<void> {
    this.reports.push(request);
    return this.failReports ? Promise.reject(new Error('UNAVAILABLE')) : Promise.resolve();
  }

  close(): void {
    this.closed = true;
  }

  last(): FakeCall {
    const call = this.calls.at(-1);
    if (call === undefined) throw new Error('no call yet');
    return call;
  }

  send(snapshot: PolicySnapshot | undefined): void {
    this.last().handlers.onMessage(create(WatchPolicyResponseSchema, { snapshot }));
  }
}

const settings = { initialBackoffMs: 100, maxBackoffMs: 1000, healthyResetMs: 10_000 };

function createHarness(random = () => 0.5) {
  const time = new ManualTime();
  const transport = new FakeTransport();
  const metrics = createPolicyMetrics(createMetricsRegistry({ processMetrics: false }));
  const logs = captureLogs();
  const received: PolicySnapshot[] = [];
  let activeVersion = 0n;
  const client = new PolicySyncClient({
    transport,
    identity: { id: 'dp-1', hostname: 'host-a', buildVersion: '0.1.0' },
    settings,
    activeVersion: () => activeVersion,
    onSnapshot: (snapshot) => {
      received.push(snapshot);
      activeVersion = snapshot.version;
      return Promise.resolve();
    },
    logger: logs.logger,
    clock: time,
    timers: time,
    random,
    metrics,
  });
  return { client, time, transport, metrics, logs, received };
}

async function gauge(metrics: PolicyMetrics, name: 'controlPlaneConnected'): Promise<number | undefined> {
  return (await metrics[name].get()).values[0]?.value;
}

async function currentStateLabel(metrics: PolicyMetrics): Promise<unknown> {
  return (await metrics.controlPlaneState.get()).values.find((value) => value.value === 1)?.labels.state;
}

describe('PolicySyncClient', () => {
  it('goes idle → connecting → ready and hands snapshots over', async () => {
    const { client, transport, received, metrics, time } = createHarness();
    expect(client.state()).toBe('idle');

    client.start();
    expect(client.state()).toBe('connecting');
    expect(transport.last().request.dataPlane).toMatchObject({
      id: 'dp-1',
      hostname: 'host-a',
      buildVersion: '0.1.0',
    });
    expect(transport.last().request.activeVersion).toBe(0n);
    expect(client.status().lastSyncAtMs).toBeUndefined();

    transport.last().handlers.onHeaders();
    expect(client.status().lastSyncAtMs).toBe(time.now());
    expect(client.state()).toBe('connecting');

    transport.send(createTestSnapshot({ version: 3n }));
    expect(client.state()).toBe('ready');
    expect(client.status().connected).toBe(true);
    expect(received.map((snapshot) => snapshot.version)).toEqual([3n]);
    expect(await gauge(metrics, 'controlPlaneConnected')).toBe(1);
    expect(await currentStateLabel(metrics)).toBe('ready');
  });

  it('treats an empty response as a sign of life, not a snapshot', () => {
    const { client, transport, received } = createHarness();
    client.start();
    transport.send(undefined);
    expect(client.state()).toBe('ready');
    expect(received).toEqual([]);
  });

  it('backs off with full jitter after a stream ends, then reconnects passing the active version', async () => {
    const { client, transport, time, metrics } = createHarness(() => 0.5);
    client.start();
    transport.send(createTestSnapshot({ version: 7n }));

    transport.last().handlers.onEnd(new Error('14 UNAVAILABLE: connection reset'));

    expect(client.state()).toBe('backoff');
    expect(client.status().connected).toBe(false);
    expect(await gauge(metrics, 'controlPlaneConnected')).toBe(0);
    expect(await currentStateLabel(metrics)).toBe('backoff');
    expect(time.pendingDelaysMs()).toEqual([50]); // 0.5 × min(1000, 100·2⁰)

    time.advance(49);
    expect(transport.calls).toHaveLength(1);
    time.advance(1);
    expect(transport.calls).toHaveLength(2);
    expect(client.state()).toBe('connecting');
    expect(transport.last().request.activeVersion).toBe(7n);
  });

  it('doubles the backoff ceiling on each failed attempt up to the cap', () => {
    const { client, transport, time } = createHarness(() => 0.999);
    client.start();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 6; attempt += 1) {
      transport.last().handlers.onEnd(new Error('14 UNAVAILABLE'));
      const [delay] = time.pendingDelaysMs();
      delays.push(delay!);
      time.advance(delay!);
    }
    expect(delays).toEqual([99, 199, 399, 799, 999, 999]);
  });

  it('resets the backoff after a stream stayed ready for the healthy period', () => {
    const { client, transport, time } = createHarness(() => 0.999);
    client.start();
    for (let attempt = 0; attempt < 3; attempt += 1) {
      transport.last().handlers.onEnd(new Error('14 UNAVAILABLE'));
      time.advance(time.pendingDelaysMs()[0]!);
    }
    transport.send(createTestSnapshot({ version: 1n }));
    time.advance(settings.healthyResetMs - 1);
    transport.last().handlers.onEnd(undefined);
    expect(time.pendingDelaysMs()).toEqual([799]); // not healthy long enough: attempt 3 → ceiling 800

    time.advance(799);
    transport.send(createTestSnapshot({ version: 2n }));
    time.advance(settings.healthyResetMs);
    transport.last().handlers.onEnd(undefined);
    expect(time.pendingDelaysMs()).toEqual([99]);
  });

  it('ignores events of a superseded call', () => {
    const { client, transport, time, received } = createHarness();
    client.start();
    const first = transport.last();
    first.handlers.onEnd(new Error('14 UNAVAILABLE'));
    time.advance(time.pendingDelaysMs()[0]!);

    first.handlers.onMessage(
      create(WatchPolicyResponseSchema, { snapshot: createTestSnapshot({ version: 1n }) }),
    );
    first.handlers.onEnd(undefined);

    expect(received).toEqual([]);
    expect(client.state()).toBe('connecting');
    expect(time.pendingDelaysMs()).toEqual([]);
  });

  describe('liveness watchdog', () => {
    /** A response the way a control plane that states its heartbeat interval sends it. */
    function sendStating(transport: FakeTransport, heartbeatIntervalMs: number, snapshot?: PolicySnapshot) {
      transport
        .last()
        .handlers.onMessage(create(WatchPolicyResponseSchema, { snapshot, heartbeatIntervalMs }));
    }

    // A stated interval whose silence limit is above the floor.
    const interval = 10_000;
    const silence = interval * SILENT_HEARTBEATS_BEFORE_RECONNECT;

    it('reconnects when nothing arrived for three of the heartbeat intervals the control plane states', () => {
      const { client, transport, time, logs } = createHarness();
      client.start();
      sendStating(transport, interval, createTestSnapshot({ version: 4n }));

      // Each message restarts the count: a heartbeat just before the deadline keeps the stream.
      time.advance(silence - 1);
      sendStating(transport, interval);
      time.advance(silence - 1);
      expect(transport.calls).toHaveLength(1);
      expect(client.state()).toBe('ready');

      time.advance(1);
      expect(transport.calls[0]!.cancelled).toBe(true);
      expect(client.state()).toBe('backoff');
      expect(logs.withMessage('policy stream ended, reconnecting after backoff')[0]).toMatchObject({
        reason: expect.stringContaining('no message from the control plane') as unknown,
      });

      time.advance(time.pendingDelaysMs()[0]!);
      expect(transport.calls).toHaveLength(2);
      expect(transport.last().request.activeVersion).toBe(4n);
    });

    it('watches a new call from its start with the interval stated last, as the first message comes at once', () => {
      const { client, transport, time } = createHarness();
      client.start();
      sendStating(transport, interval);
      transport.last().handlers.onEnd(new Error('14 UNAVAILABLE'));
      time.advance(time.pendingDelaysMs()[0]!);
      expect(transport.calls).toHaveLength(2);

      // The proxy accepted the new call but nothing comes through it.
      time.advance(silence);
      expect(transport.calls[1]!.cancelled).toBe(true);
      expect(client.state()).toBe('backoff');
    });

    it('never waits less than its floor, so a large snapshot still in transfer is not cut off', () => {
      const { client, transport, time } = createHarness();
      client.start();
      sendStating(transport, 100);
      time.advance(MIN_SILENCE_BEFORE_RECONNECT_MS - 1);
      expect(client.state()).toBe('ready');
      time.advance(1);
      expect(client.state()).toBe('backoff');
    });

    it('keeps a stream whose control plane states no interval (an older one) open, as before', () => {
      const { client, transport, time } = createHarness();
      client.start();
      sendStating(transport, interval);
      // The control plane was replaced by an older one: its responses say nothing about heartbeats.
      transport.send(createTestSnapshot({ version: 2n }));
      time.advance(3_600_000);
      expect(transport.calls).toHaveLength(1);
      expect(client.state()).toBe('ready');
    });

    it('stops watching on close', async () => {
      const { client, transport, time } = createHarness();
      client.start();
      sendStating(transport, interval);
      await client.close();
      expect(time.pendingDelaysMs()).toEqual([]);
    });
  });

  it('closes from any state: cancels the call, drops the pending reconnect, closes the transport', async () => {
    const { client, transport, time, metrics } = createHarness();
    client.start();
    transport.last().handlers.onEnd(new Error('14 UNAVAILABLE'));
    expect(time.pendingDelaysMs()).toHaveLength(1);

    await client.close();

    expect(client.state()).toBe('closed');
    expect(time.pendingDelaysMs()).toEqual([]);
    expect(transport.closed).toBe(true);
    expect(await currentStateLabel(metrics)).toBe('closed');
    time.advance(60_000);
    expect(transport.calls).toHaveLength(1);
  });

  it('cancels an open call on close', async () => {
    const { client, transport } = createHarness();
    client.start();
    transport.send(createTestSnapshot({ version: 1n }));
    await client.close();
    expect(transport.last().cancelled).toBe(true);
  });

  it('reports outcomes as ReportPolicyStatus requests and logs (never throws) when that fails', async () => {
    const { client, transport, logs } = createHarness();
    client.start();
    client.report({ version: 5n, outcome: 'applied', reason: '', activeVersion: 5n });
    transport.failReports = true;
    client.report({ version: 4n, outcome: 'rejected', reason: 'too old', activeVersion: 5n });
    await client.close(); // waits for in-flight reports

    expect(transport.reports).toHaveLength(2);
    expect(transport.reports[0]).toMatchObject({
      dataPlane: { id: 'dp-1' },
      version: 5n,
      outcome: PolicyApplyOutcome.APPLIED,
      reason: '',
      activeVersion: 5n,
    });
    expect(transport.reports[1]).toMatchObject({
      version: 4n,
      outcome: PolicyApplyOutcome.REJECTED,
      reason: 'too old',
    });
    expect(logs.withMessage('policy status report failed')).toHaveLength(1);
  });

  it('logs a failing snapshot handler without changing state', async () => {
    const time = new ManualTime();
    const transport = new FakeTransport();
    const logs = captureLogs();
    const client = new PolicySyncClient({
      transport,
      identity: { id: 'dp-1', hostname: 'h', buildVersion: 'v' },
      settings,
      activeVersion: () => 0n,
      onSnapshot: () => Promise.reject(new Error('boom')),
      logger: logs.logger,
      clock: time,
      timers: time,
      random: () => 0,
      metrics: createPolicyMetrics(createMetricsRegistry({ processMetrics: false })),
    });
    client.start();
    transport.send(createTestSnapshot({ version: 1n }));
    await client.close();
    expect(client.state()).toBe('closed');
    expect(logs.withMessage('policy snapshot handling failed')).toHaveLength(1);
  });
});
