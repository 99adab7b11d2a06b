import { join } from 'node:path';
import { expect } from 'vitest';
import { Outbox, type OutboxRecord } from '@api-router/outbox';
import { waitFor } from '@api-router/testing';
import type { InferenceHarness } from '../testing/inference-harness.test-support.js';

// What the shutdown tests share: waiting until the HTTP server is closing, the records a stopped data
// plane holds (shipped, or left on disk for the next start), and that no append met a closed outbox.

/** Resolves once the harness's HTTP server refuses new connections (its close has begun). */
export async function waitForServerClosing(harness: InferenceHarness): Promise<void> {
  await waitFor('the HTTP server to be closing', () =>
    fetch(`${harness.url}/readyz`).then(
      () => undefined,
      () => true,
    ),
  );
}

/** Every record of a stopped data plane: those it shipped and those still in its outbox directory. */
export async function recordsAfterShutdown(harness: InferenceHarness): Promise<OutboxRecord[]> {
  const outbox = await Outbox.open({ directory: join(harness.cacheDir, 'outbox') });
  try {
    const left = await outbox.read(outbox.ackedSeq, { maxRecords: 10_000, maxBytes: 64 * 1024 * 1024 });
    return [...harness.shippedRecords, ...left];
  } finally {
    await outbox.close();
  }
}

/** No append was refused because the outbox had closed before it. */
export async function expectNoAppendAfterClose(harness: InferenceHarness): Promise<void> {
  const appendFailures = await harness.dataPlane.metricsRegistry.getSingleMetricAsString(
    'router_outbox_append_failures_total',
  );
  expect(appendFailures).toContain(
    'router_outbox_append_failures_total{reason="closed",service="data-plane"} 0',
  );
}
