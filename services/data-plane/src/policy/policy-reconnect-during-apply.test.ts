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
import { createPolicyMetrics } from '../metrics/policy-metrics.js';
import { PolicyHolder } from './policy-holder.js';
import { PolicySyncClient } from './policy-sync-client.js';
import type { PolicySyncTransport, WatchPolicyHandlers } from './policy-sync-transport.js';

// The stream drops while a snapshot's apply is still in flight (its credential check is slow): the
// reconnect's WatchPolicy request carries the version active before that apply, so the control plane sends
// the same snapshot again. The data plane must not report that copy as rejected: it runs that very snapshot.

/** The test plays the control plane through each call's handlers. */
class FakeTransport implements PolicySyncTransport {
  readonly calls: { request: WatchPolicyRequest; handlers: WatchPolicyHandlers }[] = [];
  readonly reports: ReportPolicyStatusRequest[] = [];

  watchPolicy(request: WatchPolicyRequest, handlers: WatchPolicyHandlers) {
    this.calls.push({ request, handlers });
    return { cancel: () => undefined };
  }

  reportPolicyStatus(request: ReportPolicyStatusRequest): Promise<void> {
    this.reports.push(request);
    return Promise.resolve();
  }

  close(): void {}

  send(snapshot: PolicySnapshot): void {
    this.calls.at(-1)!.handlers.onMessage(create(WatchPolicyResponseSchema, { snapshot }));
  }
}

describe('policy stream reconnecting while a snapshot is applied', () => {
  it('reports the snapshot sent again on the new stream as applied, never rejected', async () => {
    const time = new ManualTime();
    const transport = new FakeTransport();
    const metrics = createPolicyMetrics(createMetricsRegistry({ processMetrics: false }));
    const logs = captureLogs();
    const pendingCheck: { finish?: () => void } = {};
    const holder: PolicyHolder = new PolicyHolder({
      logger: logs.logger,
      clock: time,
      timers: time,
      metrics,
      credentialRefs: {
        check: () =>
          new Promise<undefined>((resolve) => {
            pendingCheck.finish = () => resolve(undefined);
          }),
      },
      reporter: { report: (report) => client.report(report) },
    });
    const handling: Promise<unknown>[] = [];
    const client = new PolicySyncClient({
      transport,
      identity: { id: 'dp-1', hostname: 'host-a', buildVersion: '0.1.0' },
      settings: { initialBackoffMs: 100, maxBackoffMs: 1000, healthyResetMs: 10_000 },
      activeVersion: () => holder.activeVersion(),
      onSnapshot: (snapshot) => {
        const applying = holder.apply(snapshot, 'control-plane');
        handling.push(applying);
        return applying.then(() => undefined);
      },
      logger: logs.logger,
      clock: time,
      timers: time,
      random: () => 0.5,
      metrics,
    });
    const snapshot = createTestSnapshot({ version: 7n });

    client.start();
    transport.send(snapshot);
    await new Promise((resolve) => setImmediate(resolve)); // its apply now waits for the credential check
    expect(pendingCheck.finish).toBeDefined();
    transport.calls[0]!.handlers.onEnd(new Error('14 UNAVAILABLE'));
    time.advance(1000);
    expect(transport.calls).toHaveLength(2);
    expect(transport.calls[1]!.request.activeVersion).toBe(0n);
    transport.send(snapshot); // what the control plane sends for active_version 0
    pendingCheck.finish!();
    await Promise.all(handling);

    expect(holder.activeVersion()).toBe(7n);
    expect(transport.reports.map((report) => [report.version, report.outcome, report.reason])).toEqual([
      [7n, PolicyApplyOutcome.APPLIED, ''],
      [7n, PolicyApplyOutcome.APPLIED, ''],
    ]);
    expect(logs.withMessage('policy rejected')).toEqual([]);
    await client.close();
  });
});
