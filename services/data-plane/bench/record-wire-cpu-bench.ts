// CPU per record of the data plane's record encoders, in process: encodeUsageRecord (once per request,
// before its response) and encodeIngestRecordsRequest (per shipped batch, shown per record). Prints process
// CPU time (process.cpuUsage, user + system) per call over several runs, and the load average; asserts
// nothing. Run: cd services/data-plane && pnpm exec tsx bench/record-wire-cpu-bench.ts [iterations] [runs]
import { loadavg } from 'node:os';
import { encodeIngestRecordsRequest, type ShippableRecord } from '../src/records/ingest-request-wire.js';
import { encodeUsageRecord } from '../src/records/usage-record-wire.js';
import type { UsageRecordInit } from '../src/records/usage-recorder.js';

/** A record as a served, non-streamed chat completion produces it (UUIDv7 request id, real timings). */
function usageInit(index: number): UsageRecordInit {
  return {
    requestId: `0193a5f2-7c1e-7d3a-9b4f-${String(index).padStart(12, '0')}`,
    startedAtMs: 1_764_150_000_123 + index,
    tenantId: 'tenant-acme',
    keyPublicId: 'rk_demo01',
    model: 'gpt-4o-mini',
    routeId: 'route-default',
    backendId: 'backend-mock-1',
    statusCode: 200,
    inputTokens: 12 + (index % 50),
    outputTokens: 96,
    costMicros: 1_340 + index,
    attempts: 1,
    streamed: false,
    truncated: false,
    totalMs: 1.2345 + index / 1e6,
    upstreamMs: 0.8123,
    overheadMs: 0.4222,
    queueMs: 0,
    timeToFirstTokenMs: 0,
    policyVersion: 42n,
  };
}

/** A UUIDv7 record id, as the usage recorder makes one per record. */
const RECORD_ID = '0193a5f2-7c1e-7d3a-9b4f-0123456789ab';
const iterations = Number(process.argv[2] ?? 200_000);
const runs = Number(process.argv[3] ?? 5);
const BATCH = 64;
const inits = Array.from({ length: 1024 }, (_, index) => usageInit(index));
let sink = 0;

function cpuMicrosPerCall(calls: number, body: () => void): number {
  const before = process.cpuUsage();
  body();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / calls;
}

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const load = (): string =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');

const sample = encodeUsageRecord(inits[0]!, 'dp-bench-1', RECORD_ID);
out(`record wire CPU: ${iterations} calls per run, ${runs} runs; UsageRecord ${sample.length} B`);
out(`load average before ${load()}`);
const records: ShippableRecord[] = inits.map((init, index) => ({
  key: init.requestId,
  topic: 'usage',
  payload: encodeUsageRecord(init, 'dp-bench-1', RECORD_ID),
  seq: 1_000_000 + index,
}));
// Warm up both encoders so the runs measure optimised code.
for (let i = 0; i < 50_000; i += 1)
  sink += encodeUsageRecord(inits[i & 1023]!, 'dp-bench-1', RECORD_ID).length;
for (let i = 0; i < 2_000; i += 1)
  sink += encodeIngestRecordsRequest('dp-bench-1', records.slice(0, BATCH)).length;
for (let run = 1; run <= runs; run += 1) {
  const usage = cpuMicrosPerCall(iterations, () => {
    for (let i = 0; i < iterations; i += 1)
      sink += encodeUsageRecord(inits[i & 1023]!, 'dp-bench-1', RECORD_ID).length;
  });
  const batches = Math.max(1, Math.floor(iterations / BATCH));
  const ingest = cpuMicrosPerCall(batches * BATCH, () => {
    for (let i = 0; i < batches; i += 1) {
      const start = (i * BATCH) & 1023;
      sink += encodeIngestRecordsRequest('dp-bench-1', records.slice(start, start + BATCH)).length;
    }
  });
  out(
    `run ${run}: encodeUsageRecord ${usage.toFixed(3)} µs/record, ` +
      `encodeIngestRecordsRequest (${BATCH} per batch) ${ingest.toFixed(3)} µs/record`,
  );
}
out(`load average after ${load()} (sink ${sink})`);
