// Diagnostic preload (not a product component): what a server allocates per request, by function. Loaded
// into the data plane and the bare proxy of a benchmark, it waits until the process is serving load (event-
// loop utilisation above 20 % for two half-second readings, not in its first 30 s), lets the load settle
// for 3 s, then runs V8's sampling heap profiler for 6 s — objects the GC has already collected included,
// so it measures allocation, not what is alive — and counts the HTTP requests that started meanwhile. It
// writes $ALLOC_WATCH_DIR/alloc-<router|bare-proxy>-<pid>.json; bench/alloc-summary.ts reads it.
// ALLOC_WATCH_MODE=live samples for 1 s and leaves out every object the GC collected: what remains is what
// the last second allocated and still holds when sampling stops (requests in flight, records not yet shipped,
// caches): the objects a young-generation GC has to copy, which its pause follows. That file is
// alloc-live-<server>-<pid>.json.
//
//   ALLOC_WATCH_DIR=$(mktemp -d) NODE_OPTIONS=--import=./bench/alloc-watch.mjs \
//     pnpm exec tsx bench/inference-overhead.ts --latencies 20 --rounds 1
//   pnpm exec tsx bench/alloc-summary.ts <that directory>/alloc-*.json
import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const directory = process.env.ALLOC_WATCH_DIR;
const commandLine = process.argv.slice(1).join(' ');
const server = /data-plane\/dist\/main/.test(commandLine)
  ? 'router'
  : /bare-proxy/.test(commandLine)
    ? 'bare-proxy'
    : undefined;
const live = process.env.ALLOC_WATCH_MODE === 'live';
if (directory !== undefined && directory !== '' && server !== undefined) {
  const session = new Session();
  session.connect();
  const post = (method, params) =>
    new Promise((resolve, reject) => {
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result)));
    });
  let requests = 0;
  let counting = false;
  subscribe('http.server.request.start', () => {
    if (counting) requests += 1;
  });
  const sample = async () => {
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', {
      samplingInterval: 512,
      includeObjectsCollectedByMajorGC: !live,
      includeObjectsCollectedByMinorGC: !live,
    });
    counting = true;
    const startMs = Date.now();
    setTimeout(
      async () => {
        const { profile } = await post('HeapProfiler.stopSampling');
        counting = false;
        const file = join(directory, `alloc-${live ? 'live-' : ''}${server}-${process.pid}.json`);
        const durationMs = Date.now() - startMs;
        writeFileSync(file, JSON.stringify({ server, live, requests, durationMs, profile }));
      },
      live ? 1000 : 6000,
    );
  };
  let previous = performance.eventLoopUtilization();
  let busyReadings = 0;
  const poll = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, previous).utilization > 0.2;
    previous = now;
    busyReadings = busy && process.uptime() > 30 ? busyReadings + 1 : 0;
    if (busyReadings < 2) return;
    clearInterval(poll);
    setTimeout(() => void sample(), 3000);
  }, 500);
  poll.unref();
}
