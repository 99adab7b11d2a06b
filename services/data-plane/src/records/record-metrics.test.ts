import { describe, expect, it } from 'vitest';
import { createMetricsRegistry } from '@api-router/observability';
import type { OutboxSyncStats, ShipperLag } from '@api-router/outbox';
import { createRecordMetrics } from './record-metrics.js';

const idle: ShipperLag = {
  pendingRecords: 0,
  pendingBytes: 0,
  oldestPendingAgeMs: 0,
  consecutiveFailures: 0,
  shippedRecords: 0,
  lastError: undefined,
  sendInFlightMs: 0,
};
const synced: OutboxSyncStats = { mode: 'interval', unsyncedRecords: 0, unsyncedBytes: 0, lastSyncAtMs: 0 };

describe('createRecordMetrics', () => {
  // Before: with Kafka gone, kafkajs' idempotent producer retries a send without limit, so no send failed,
  // router_outbox_ship_failures_total and _shipper_consecutive_failures stayed 0: nothing said "transport".
  it('exports the age of the send in flight, read at scrape time', async () => {
    const registry = createMetricsRegistry({ processMetrics: false });
    let lag = idle;
    createRecordMetrics(registry, { lag: () => lag, sync: () => synced });
    expect(await registry.metrics()).toMatch(/^router_outbox_send_in_flight_seconds 0$/m);
    lag = { ...idle, pendingRecords: 3, sendInFlightMs: 42_500 };
    const text = await registry.metrics();
    expect(text).toMatch(/^router_outbox_send_in_flight_seconds 42\.5$/m);
    expect(text).toMatch(/^router_outbox_ship_failures_total 0$/m);
  });
});
