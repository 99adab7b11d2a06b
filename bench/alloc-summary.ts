// Diagnostic (prints, asserts nothing): bytes allocated per request by function, from the profiles that
// bench/alloc-watch.mjs wrote (one or more: each is summarised on its own; a live profile, in KiB still
// alive). A function's row is the size of the objects allocated in its own code (builtins it calls, such as
// JSON.stringify, included); V8 scales the samples to an estimate of all bytes allocated.
//
//   pnpm exec tsx bench/alloc-summary.ts <dir>/alloc-router-<pid>.json <dir>/alloc-bare-proxy-<pid>.json [--top 30]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { functionOf, type V8CallFrame } from './v8-call-frame.js';

const { values: args, positionals: files } = parseArgs({
  options: { top: { type: 'string', default: '30' } },
  allowPositionals: true,
});
if (files.length === 0) throw new Error('name one or more alloc-*.json files');

/** The parts of a DevTools sampling heap profile this reads. */
interface ProfileNode {
  callFrame: V8CallFrame;
  selfSize: number;
  children: ProfileNode[];
}
interface AllocationProfile {
  server: string;
  /** ALLOC_WATCH_MODE=live: only objects still alive when sampling stopped. */
  live?: boolean;
  requests: number;
  durationMs: number;
  profile: { head: ProfileNode };
}

const out: string[] = [];
for (const file of files) {
  const { server, live, requests, durationMs, profile } = JSON.parse(
    readFileSync(file, 'utf8'),
  ) as AllocationProfile;
  const bytes = new Map<string, number>();
  const pending = [profile.head];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    if (node.selfSize > 0) {
      const row = functionOf(node.callFrame);
      bytes.set(row, (bytes.get(row) ?? 0) + node.selfSize);
    }
    pending.push(...node.children);
  }
  const total = [...bytes.values()].reduce((sum, value) => sum + value, 0);
  if (requests === 0) throw new Error(`${file}: no request started while it sampled`);
  // A live profile (ALLOC_WATCH_MODE=live) holds what was still alive at its end: KiB in all, not per request.
  const summary =
    live === true
      ? `${(total / 1024).toFixed(0)} KiB of what they allocated still alive at the end`
      : `${(total / requests / 1024).toFixed(1)} KiB allocated per request`;
  const row = (size: number) =>
    live === true
      ? `${(size / 1024).toFixed(1).padStart(7)} KiB`
      : `${(size / requests).toFixed(0).padStart(7)} B`;
  out.push(`${server} (${file}): ${requests} requests in ${(durationMs / 1000).toFixed(1)} s; ${summary}`);
  for (const [name, size] of [...bytes].sort((x, y) => y[1] - x[1]).slice(0, Number(args.top)))
    out.push(`${row(size)}  ${name}`);
  out.push('');
}
process.stdout.write(`${out.join('\n')}`);
