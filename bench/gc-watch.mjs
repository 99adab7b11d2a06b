// Diagnostic preload (not a product component): records every GC of the process it is loaded into — wall-clock
// start (ms since the epoch), duration (ms) and V8's kind (1 scavenge, 4 mark-compact, 8 incremental, 16
// weak callbacks) — to $GC_WATCH_DIR/gc-<pid>.log, one line each, the process's command line first. Load it
// into every process of a benchmark with NODE_OPTIONS, then match the GCs with slow requests:
//
//   GC_WATCH_DIR=$(mktemp -d) NODE_OPTIONS=--import=./bench/gc-watch.mjs \
//     pnpm exec tsx bench/inference-overhead.ts --latencies 20 --no-bare-proxy --keep-log
//   pnpm exec tsx bench/slow-requests.ts --log <data-plane log it printed> --gc-dir <that directory>
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';

const directory = process.env.GC_WATCH_DIR;
if (directory !== undefined && directory !== '') {
  const file = join(directory, `gc-${process.pid}.log`);
  let lines = [`# ${process.argv.slice(1).join(' ')}`];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const start = (performance.timeOrigin + entry.startTime).toFixed(3);
      lines.push(`${start} ${entry.duration.toFixed(3)} ${entry.detail?.kind ?? ''}`);
    }
  }).observe({ entryTypes: ['gc'] });
  const flush = () => {
    if (lines.length === 0) return;
    appendFileSync(file, `${lines.join('\n')}\n`);
    lines = [];
  };
  setInterval(flush, 1000).unref();
  process.once('exit', flush);
}
