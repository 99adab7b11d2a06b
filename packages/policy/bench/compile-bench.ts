// Benchmark of the policy pipeline at a large size (10,000 keys, 500 backends, 200 routes): parse+validate,
// compileSnapshot, compileRuntimePolicy, snapshot size, and the heap a RuntimePolicy holds. It prints
// figures and asserts nothing. Run from the repository root:
//
//   pnpm exec tsx --conditions=source --expose-gc packages/policy/bench/compile-bench.ts
//
// (or `pnpm --filter @api-router/policy bench`). `--conditions=source` resolves workspace packages to their
// TypeScript sources, so nothing needs building first.
//
// Without --expose-gc the heap figure is skipped (it needs global.gc to measure before/after).
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { PolicySnapshotSchema } from '@api-router/contracts';
import { compileRuntimePolicy, compileSnapshot, generateSyntheticConfig, parseConfig } from '../src/index.js';

const SIZE = { keys: 10_000, backends: 500, routes: 200 };
const ROUNDS = 5;

function write(line: string): void {
  process.stdout.write(`${line}\n`);
}

interface Measurement<T> {
  /** Median wall-clock time of one run, in milliseconds. */
  wallMs: number;
  /** Median CPU time (user + system) of one run, in milliseconds: steadier than wall time on a busy machine. */
  cpuMs: number;
  result: T;
}

/** Runs `run` once to warm up, then `rounds` times, and reports median times and the last result. */
function measure<T>(rounds: number, run: () => T): Measurement<T> {
  const wall: number[] = [];
  const cpu: number[] = [];
  let result = run();
  for (let round = 0; round < rounds; round += 1) {
    const start = process.hrtime.bigint();
    const startCpu = process.cpuUsage();
    result = run();
    const usedCpu = process.cpuUsage(startCpu);
    wall.push(Number(process.hrtime.bigint() - start) / 1e6);
    cpu.push((usedCpu.user + usedCpu.system) / 1000);
  }
  return { wallMs: median(wall), cpuMs: median(cpu), result };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function formatTimes(label: string, measurement: Measurement<unknown>): string {
  const wall = measurement.wallMs.toFixed(1).padStart(8);
  const cpu = measurement.cpuMs.toFixed(1).padStart(8);
  return `${label.padEnd(22)}${wall} ms wall ${cpu} ms cpu`;
}

function heapUsedAfterGc(gc: () => void): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function main(): void {
  const documents = generateSyntheticConfig(SIZE);
  const options = { version: 1n, sourceRevision: 'bench', createdAt: new Date(0) };
  const yamlBytes = Buffer.byteLength(documents.router.text) + Buffer.byteLength(documents.policies.text);
  write(`policy compile benchmark: ${SIZE.keys} keys, ${SIZE.backends} backends, ${SIZE.routes} routes`);
  write(
    `YAML input:            ${yamlBytes} bytes; times are medians of ${ROUNDS} runs after one warm-up run`,
  );

  const parsed = measure(ROUNDS, () => parseConfig(documents));
  write(formatTimes('parse + validate:', parsed));
  const compiled = measure(ROUNDS, () => compileSnapshot(parsed.result, options));
  write(formatTimes('compileSnapshot:', compiled));
  const runtime = measure(ROUNDS, () => compileRuntimePolicy(compiled.result));
  write(formatTimes('compileRuntimePolicy:', runtime));
  const wire = toBinary(PolicySnapshotSchema, compiled.result);
  write(`snapshot binary size:  ${wire.byteLength} bytes`);
  const decoded = measure(ROUNDS, () => fromBinary(PolicySnapshotSchema, wire));
  write(formatTimes('fromBinary (decode):', decoded));

  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    write('RuntimePolicy heap:    skipped (run with --expose-gc)');
    return;
  }
  // The heap of a RuntimePolicy as a data plane holds it: decoded from the wire, then compiled. The decoded
  // snapshot's messages are part of it (the runtime maps share them).
  const before = heapUsedAfterGc(gc);
  const policy = compileRuntimePolicy(fromBinary(PolicySnapshotSchema, wire));
  const after = heapUsedAfterGc(gc);
  const retained = after - before;
  write(`RuntimePolicy heap:    ${(retained / 1024 / 1024).toFixed(1)} MiB (${retained} bytes)`);
  // Keeps `policy` reachable until after the measurement.
  write(`(${policy.apiKeysByPublicId.size} keys in the measured policy)`);
}

main();
