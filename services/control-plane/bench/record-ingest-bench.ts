// Benchmark of the control plane's record ingest: CPU per shipped usage record, from the request's wire
// bytes to rows committed in the SQLite audit store, for the two forms IngestRecord accepts — the record as
// an embedded message (usage = 2, what data planes sent before) and as its encoded bytes (usage_bytes = 5,
// what they send now, stored without re-encoding). It prints figures and asserts nothing. Run from the
// repository root (pin it to a core of its own with taskset for steadier figures):
//
//   pnpm exec tsx --conditions=source services/control-plane/bench/record-ingest-bench.ts [rounds]
//
// What is timed is what the gRPC server does per call after the HTTP/2 framing: decode the request
// (fromBinary, as connect does) and run RecordIngestService.ingestRecords, whose store inserts the batch in
// one transaction. The two forms alternate round by round in one process, each round into a fresh store,
// so that a drifting machine biases neither.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, toBinary, fromBinary } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import type { HandlerContext } from '@connectrpc/connect';
import {
  IngestRecordsRequestSchema,
  UsageRecordSchema,
  type IngestRecordsRequest,
} from '@api-router/contracts';
import { createLogger, createMetricsRegistry } from '@api-router/observability';
import { openSqliteAuditStore } from '../src/audit/sqlite-audit-store.js';
import { createControlPlaneMetrics } from '../src/control-plane-metrics.js';
import { createRecordIngestService } from '../src/record-ingest-service.js';

const BATCH = 100;
const BATCHES_PER_ROUND = 200;
const rounds = Number(process.argv[2] ?? 6);
type Form = 'usage (message)' | 'usage_bytes';
const FORMS: readonly Form[] = ['usage (message)', 'usage_bytes'];

/** A usage record as a data plane writes it: every field set, ids of realistic length. */
function usageRecordBytes(round: number, index: number): Uint8Array {
  return toBinary(
    UsageRecordSchema,
    create(UsageRecordSchema, {
      requestId: `019ac0d2-7f3e-7a51-9c4b-${String(round * 1_000_000 + index).padStart(12, '0')}`,
      startedAt: timestampFromMs(1_795_000_000_000 + index),
      tenantId: 'tenant-acme',
      keyPublicId: 'key_3f9a1c2b7d4e',
      model: 'gpt-4o-mini',
      routeId: 'chat-default',
      backendId: 'openai-primary',
      statusCode: 200,
      inputTokens: 412n,
      outputTokens: 128n,
      costMicros: 1_337n,
      attempts: 1,
      totalMs: 23.41,
      upstreamMs: 22.87,
      overheadMs: 0.54,
      dataPlaneId: 'dp-eu-west-1a-7',
      policyVersion: 1_795_711_227_095n,
    }),
  );
}

/** The wire bytes of one IngestRecords request of BATCH records in `form`. */
function requestBytes(form: Form, round: number, batch: number): Uint8Array {
  return toBinary(
    IngestRecordsRequestSchema,
    create(IngestRecordsRequestSchema, {
      dataPlaneId: 'dp-eu-west-1a-7',
      records: Array.from({ length: BATCH }, (_, offset) => {
        const index = batch * BATCH + offset;
        const bytes = usageRecordBytes(round, index);
        return {
          key: `request-${index}`,
          outboxSeq: BigInt(index + 1),
          record:
            form === 'usage_bytes'
              ? { case: 'usageBytes' as const, value: bytes }
              : { case: 'usage' as const, value: fromBinary(UsageRecordSchema, bytes) },
        };
      }),
    }),
  );
}

async function runRound(form: Form, round: number, directory: string): Promise<number> {
  const store = await openSqliteAuditStore({
    path: join(directory, `audit-${round}-${form === 'usage_bytes' ? 'bytes' : 'message'}.sqlite`),
  });
  const metrics = createControlPlaneMetrics({
    registry: createMetricsRegistry({ defaultLabels: {} }),
    countDataPlanes: () => ({ connected: 0, disconnected: 0 }),
  });
  const service = createRecordIngestService({
    store,
    clock: { now: () => Date.now() },
    metrics,
    logger: createLogger({ service: 'bench', level: 'silent' }),
  });
  const requests = Array.from({ length: BATCHES_PER_ROUND }, (_, batch) => requestBytes(form, round, batch));
  const context = {} as HandlerContext; // ingestRecords reads nothing from it
  const start = process.cpuUsage();
  for (const wire of requests) {
    const request: IngestRecordsRequest = fromBinary(IngestRecordsRequestSchema, wire);
    await service.ingestRecords(request, context);
  }
  const cpu = process.cpuUsage(start);
  await store.close();
  return (cpu.user + cpu.system) / (BATCHES_PER_ROUND * BATCH);
}

const directory = mkdtempSync(join(tmpdir(), 'ingest-bench-'));
try {
  process.stdout.write(
    `record ingest: ${rounds} rounds × ${BATCHES_PER_ROUND} batches of ${BATCH} usage records per form, SQLite store, node ${process.version}\n`,
  );
  const results = new Map<Form, number[]>(FORMS.map((form) => [form, []]));
  // Round 0 warms both forms up (JIT, SQLite page cache) and is not reported.
  for (let round = 0; round <= rounds; round += 1) {
    for (const form of round % 2 === 0 ? FORMS : [...FORMS].reverse()) {
      const micros = await runRound(form, round, directory);
      if (round > 0) results.get(form)!.push(micros);
    }
  }
  for (const [form, micros] of results) {
    const sorted = [...micros].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    process.stdout.write(
      `${form.padEnd(16)} µs CPU per record: median ${median.toFixed(1)} (rounds ${micros.map((value) => value.toFixed(1)).join(' / ')})\n`,
    );
  }
} finally {
  rmSync(directory, { recursive: true, force: true });
}
