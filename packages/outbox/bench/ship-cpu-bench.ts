// CPU per record of the outbox and its shipper together, as the data plane runs them: 300 B records are
// appended open loop at `rate` per second (spread over 1 ms ticks, like requests arriving one by one)
// while a Shipper drains to a callback transport that answers on the next loop turn (a fast network peer).
// Prints process CPU (all threads: main + libuv threadpool) per record, append latency and the
// file-system calls per record, per sync mode. Prints figures; asserts nothing.
// Run: cd packages/outbox && pnpm exec tsx bench/ship-cpu-bench.ts [seconds] [rate]
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createCallbackTransport,
  createNodeOutboxFs,
  Outbox,
  Shipper,
  type OutboxFile,
  type OutboxFs,
  type OutboxSyncMode,
} from '../src/index.js';

const PAYLOAD = Buffer.alloc(300, 7);

/** The real file system, counting calls by kind. */
function countingFs(counts: Map<string, number>): OutboxFs {
  const real = createNodeOutboxFs();
  const count = (kind: string): void => {
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  };
  return {
    ...real,
    rename: (from, to) => (count('rename'), real.rename(from, to)),
    unlink: (path) => (count('unlink'), real.unlink(path)),
    writeSync: (...args) => (count('writeSync'), real.writeSync!(...args)),
    open: async (path, flags) => {
      count(`open ${flags}`);
      const file = await real.open(path, flags);
      const wrapped: OutboxFile = {
        fd: file.fd,
        read: (...args) => (count('read'), file.read(...args)),
        write: (...args) => (count('write'), file.write(...args)),
        datasync: () => (count('fdatasync'), file.datasync()),
        truncate: (length) => file.truncate(length),
        stat: () => file.stat(),
        close: () => (count('close'), file.close()),
      };
      return wrapped;
    },
  };
}

interface Case {
  sync: OutboxSyncMode;
  /** The shipper's lazy-ack interval (0: ack every batch). */
  ackIntervalMs: number;
  /** The shipper's linger (0: send at every commit). */
  lingerMs: number;
  /** false: no memory tail (every read goes to the segment files, as before it existed). */
  tail?: boolean;
  /** The outbox's maxSyncWriteBytes (default 0: every write through the threadpool). */
  maxSyncWriteBytes?: number;
}

/** The same open loop with appends that resolve at once: the cost of the loop itself, to subtract. */
async function runHarnessOnly(seconds: number, rate: number): Promise<number> {
  let appends = 0;
  const pending: Promise<void>[] = [];
  const latencies: number[] = [];
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsedMs = performance.now() - started;
      if (elapsedMs >= seconds * 1000) {
        clearInterval(timer);
        resolve();
        return;
      }
      while (appends < (elapsedMs * rate) / 1000) {
        const sentAt = performance.now();
        appends += 1;
        pending.push(Promise.resolve(appends).then(() => void latencies.push(performance.now() - sentAt)));
      }
    }, 1);
  });
  await Promise.all(pending);
  const cpu = process.cpuUsage(cpuBefore);
  return (cpu.user + cpu.system) / appends;
}

async function runCase(
  directory: string,
  { sync, ackIntervalMs, lingerMs, tail = true, maxSyncWriteBytes = 0 }: Case,
  seconds: number,
  rate: number,
) {
  const counts = new Map<string, number>();
  const outbox = await Outbox.open({
    directory,
    sync,
    fs: countingFs(counts),
    maxSyncWriteBytes,
    ...(tail ? {} : { memoryTail: { maxRecords: 0 } }),
  });
  let shipped = 0;
  let sends = 0;
  const shipper = new Shipper({
    outbox,
    ackIntervalMs,
    lingerMs,
    transport: createCallbackTransport(async (records) => {
      sends += 1;
      shipped += records.length;
      await new Promise((resolve) => setImmediate(resolve));
    }),
  });
  shipper.start();
  let appends = 0;
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsedMs = performance.now() - started;
      if (elapsedMs >= seconds * 1000) {
        clearInterval(timer);
        resolve();
        return;
      }
      // Catch up to the rate: as many appends as are due by now.
      while (appends < (elapsedMs * rate) / 1000) {
        const sentAt = performance.now();
        appends += 1;
        pending.push(
          outbox
            .append({ key: `req-${appends}`, topic: 'usage', payload: PAYLOAD })
            .then(() => void latencies.push(performance.now() - sentAt)),
        );
      }
    }, 1);
  });
  await Promise.all(pending);
  await shipper.flush(10_000);
  const cpu = process.cpuUsage(cpuBefore);
  const elapsedSeconds = (performance.now() - started) / 1000;
  await shipper.close();
  await outbox.close();
  latencies.sort((a, b) => a - b);
  const p99Ms = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
  return { appends, shipped, sends, elapsedSeconds, cpuMicros: cpu.user + cpu.system, counts, p99Ms };
}

const seconds = Number(process.argv[2] ?? 5);
const rate = Number(process.argv[3] ?? 1000);
const root = await mkdtemp(join(tmpdir(), 'outbox-ship-bench-'));
const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
out(`outbox+shipper CPU: ${rate} appends/s open loop, ${PAYLOAD.length} B payloads, ${seconds} s per case`);
out(
  `load average before ${loadavg()
    .map((value) => value.toFixed(2))
    .join(' ')}`,
);
const PER_BATCH: OutboxSyncMode = { mode: 'per-batch' };
const INTERVAL: OutboxSyncMode = { mode: 'interval', intervalMs: 10 };
const round: Case[] = [
  { sync: PER_BATCH, ackIntervalMs: 0, lingerMs: 0, tail: false },
  { sync: PER_BATCH, ackIntervalMs: 0, lingerMs: 0 },
  { sync: INTERVAL, ackIntervalMs: 0, lingerMs: 0 },
  { sync: PER_BATCH, ackIntervalMs: 100, lingerMs: 0 },
  { sync: INTERVAL, ackIntervalMs: 100, lingerMs: 0 },
  { sync: INTERVAL, ackIntervalMs: 100, lingerMs: 20 },
  { sync: INTERVAL, ackIntervalMs: 100, lingerMs: 20, maxSyncWriteBytes: 65_536 },
];
const cases = [...round, ...round];
out(
  `harness alone (appends resolve at once): CPU ${(await runHarnessOnly(seconds, rate)).toFixed(1)} µs/record`,
);
try {
  for (const [index, benchCase] of cases.entries()) {
    const { sync } = benchCase;
    const result = await runCase(join(root, `case-${index}`), benchCase, seconds, rate);
    const perRecord = (value: number): string => (value / result.appends).toFixed(3);
    const calls = [...result.counts]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([kind, value]) => `${kind} ${perRecord(value)}`)
      .join(', ');
    out(
      `${sync.mode === 'interval' ? `interval ${sync.intervalMs} ms` : 'per-batch'}, ack every ` +
        `${benchCase.ackIntervalMs === 0 ? 'batch' : `${benchCase.ackIntervalMs} ms`}, ` +
        `linger ${benchCase.lingerMs} ms${benchCase.tail === false ? ', no memory tail' : ''}` +
        `${benchCase.maxSyncWriteBytes ? ', sync writes' : ''}: ` +
        `${(result.appends / result.elapsedSeconds).toFixed(0)} appends/s, ` +
        `CPU ${(result.cpuMicros / result.appends).toFixed(1)} µs/record, append p99 ${result.p99Ms.toFixed(2)} ms, ` +
        `${(result.appends / Math.max(1, result.sends)).toFixed(1)} records/send; fs calls per record: ${calls}`,
    );
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
out(
  `load average after ${loadavg()
    .map((value) => value.toFixed(2))
    .join(' ')}`,
);
