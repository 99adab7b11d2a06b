// Benchmark of the services' log destination: CPU per access-log line and the garbage it leaves, for
// bufferedStdout() (sonic-boom in buffer mode, 32-64 KiB chunks) against the alternatives it was chosen
// over: sonic-boom's string mode with large or small chunks, and a write per line. It prints figures and
// asserts nothing. Run from the repository root:
//
//   pnpm exec tsx --conditions=source packages/observability/bench/log-destination-bench.ts [lines per turn…]
//
// Each setting runs in a child process of its own (a clean heap, the data plane's heap flags), pinned to
// one core when taskset exists; lines go to a temporary file. A "turn" logs N lines, then yields to the
// event loop (setImmediate) as a server does between batches of requests: 2 lines per turn is a lightly
// loaded router, 20 a saturated one.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { destination, pino } from 'pino';
import { bufferedDestination, LOG_FLUSH_INTERVAL_MS } from '../src/logger.js';

const SETTINGS: Record<string, { minLength: number; maxWrite?: number } | 'bufferedStdout'> = {
  'bufferedStdout()': 'bufferedStdout',
  '32-64 KiB strings': { minLength: 32 * 1024, maxWrite: 64 * 1024 },
  '4-8 KiB strings': { minLength: 4 * 1024, maxWrite: 8 * 1024 },
  'line by line': { minLength: 0 },
};
const TURNS = 40_000;
const HEAP_FLAGS = ['--max-semi-space-size=64', '--min-semi-space-size=64'];

async function child(setting: string, perTurn: number, file: string): Promise<void> {
  const chosen = SETTINGS[setting]!;
  const dest =
    chosen === 'bufferedStdout'
      ? bufferedDestination(file)
      : destination({ dest: file, sync: false, periodicFlush: LOG_FLUSH_INTERVAL_MS, ...chosen });
  const log = pino({ base: { service: 'data-plane' }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
  let gcs = 0;
  let gcMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gcs += 1;
      gcMs += entry.duration;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const start = process.cpuUsage();
  let turn = 0;
  await new Promise<void>((resolve) => {
    const next = (): void => {
      for (let i = 0; i < perTurn; i += 1) {
        log.info(
          {
            request_id: `01a21846-f694-7664-a106-${String(turn * perTurn + i).padStart(12, '0')}`,
            method: 'POST',
            path: '/v1/chat/completions',
            status: 200,
            ms: 1.23,
            key: 'demo-key',
            tenant: 'demo',
            route: 'demo-route',
            backend: 'mock-a',
            attempts: 1,
          },
          'request completed',
        );
      }
      turn += 1;
      if (turn < TURNS) setImmediate(next);
      else resolve();
    };
    next();
  });
  // sonic-boom (what pino.destination returns) flushes with a callback; pino types it as a plain stream.
  const flushable = dest as unknown as { flush(done: () => void): void };
  await new Promise<void>((resolve) => flushable.flush(() => resolve()));
  const cpu = process.cpuUsage(start);
  observer.disconnect();
  const lines = TURNS * perTurn;
  process.stdout.write(
    `${setting.padEnd(19)} ${String(perTurn).padStart(5)} lines/turn  ${((cpu.user + cpu.system) / lines).toFixed(2).padStart(6)} µs CPU/line  ` +
      `${String(gcs).padStart(5)} GCs, ${gcMs.toFixed(0).padStart(4)} ms\n`,
  );
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
}

if (process.env.LOG_BENCH_CHILD !== undefined) {
  const [setting, perTurn, file] = JSON.parse(process.env.LOG_BENCH_CHILD) as [string, number, string];
  await child(setting, perTurn, file);
} else {
  const perTurns = process.argv.slice(2).map(Number);
  const dir = mkdtempSync(join(tmpdir(), 'log-bench-'));
  const pin = hasTaskset() ? ['taskset', '-c', '1'] : [];
  process.stdout.write(
    `log destination: ${TURNS} turns per run, node ${process.version}, ${pin.length > 0 ? 'pinned to CPU 1' : 'unpinned'}\n`,
  );
  try {
    for (const perTurn of perTurns.length > 0 ? perTurns : [2, 20]) {
      for (const setting of Object.keys(SETTINGS)) {
        const command = [
          ...pin,
          process.execPath,
          ...HEAP_FLAGS,
          ...process.execArgv,
          fileURLToPath(import.meta.url),
        ];
        const run = spawnSync(command[0]!, command.slice(1), {
          stdio: ['ignore', 'inherit', 'inherit'],
          env: { ...process.env, LOG_BENCH_CHILD: JSON.stringify([setting, perTurn, join(dir, 'out.log')]) },
        });
        if (run.status !== 0) throw new Error(`${setting}: exited with ${run.status}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
