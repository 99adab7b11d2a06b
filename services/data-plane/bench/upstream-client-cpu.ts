// Benchmark (prints figures, asserts nothing): CPU per call of the data plane's upstream client alone —
// send a chat-completions request through the backend's undici pool and read the whole JSON answer — against
// a tiny node:http backend in a child process (its CPU is not counted). Figures are this process's
// process.cpuUsage() (user + system, all threads) over the measured calls divided by the calls.
//
//   pnpm exec tsx services/data-plane/bench/upstream-client-cpu.ts [--calls 20000] [--concurrency 16]
//     [--rounds 3] [--body-bytes 600] [--modes stream+readable,whole]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { create } from '@bufbuild/protobuf';
import { BackendSchema } from '@api-router/contracts';
import { createLogger } from '@api-router/observability';
import { readUpstreamBody } from '../src/upstream/read-upstream-body.js';
import { createUpstreamClient, type UpstreamRequest } from '../src/upstream/upstream-client.js';
import { UpstreamPools } from '../src/upstream/upstream-pools.js';

const { values: args } = parseArgs({
  options: {
    calls: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
    'body-bytes': { type: 'string', default: '600' },
    modes: { type: 'string', default: 'stream+readable,whole' },
  },
});
const calls = Number(args.calls);
const concurrency = Number(args.concurrency);
const rounds = Number(args.rounds);

// The backend: answers every request with the same JSON body once the request body is in (keep-alive).
const BACKEND_SOURCE = `
const http = require('node:http');
const body = Buffer.from(JSON.stringify({ id: 'c', object: 'chat.completion', pad: 'x'.repeat(${Number(args['body-bytes'])}) }));
const server = http.createServer({ keepAliveTimeout: 60000 }, (request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    response.end(body);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

const backendProcess = spawn(process.execPath, ['-e', BACKEND_SOURCE], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const [portLine] = (await once(backendProcess.stdout, 'data')) as [Buffer];
const baseUrl = `http://127.0.0.1:${portLine.toString().trim()}/v1`;

const pools = new UpstreamPools({ logger: createLogger({ service: 'bench', level: 'silent' }) });
const client = createUpstreamClient(pools);
const backend = create(BackendSchema, {
  id: 'bench',
  baseUrl,
  maxConnections: concurrency,
  connectTimeoutMs: 1000,
  enabled: true,
});
const requestBody = JSON.stringify({
  model: 'm',
  messages: [{ role: 'user', content: 'Hello' }],
  max_tokens: 16,
});
const request: UpstreamRequest = {
  backend,
  path: '/chat/completions',
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    accept: 'application/json',
    authorization: 'Bearer backend-token',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    'x-request-id': '0190b3c0-0000-7000-8000-000000000000',
  },
  body: requestBody,
  signal: new AbortController().signal,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 10_000,
};

// `stream+readable`: request() and its Readable read with for-await (how JSON answers were read before);
// `whole`: the client's whole() (one dispatch, chunks collected) — how they are read now.
type Mode = 'stream+readable' | 'whole';
const modes = args.modes.split(',') as Mode[];
const MAX_BYTES = 1 << 20;

async function callOnce(mode: Mode): Promise<number> {
  // One signal per call, as every router request has its own (deadline, client gone).
  const signal = new AbortController().signal;
  switch (mode) {
    case 'stream+readable': {
      const outcome = await client.stream({ ...request, signal });
      if (!outcome.ok) throw new Error(`upstream failed: ${outcome.failure.kind}`);
      return (await readUpstreamBody(outcome.response.body, MAX_BYTES, signal)).length;
    }
    case 'whole': {
      const outcome = await client.whole({ ...request, signal }, () => MAX_BYTES);
      if (!outcome.ok) throw new Error(`upstream failed: ${outcome.failure.kind}`);
      if (!outcome.response.body.ok) throw new Error('body failed');
      return outcome.response.body.bytes.length;
    }
  }
}

async function run(mode: Mode, count: number): Promise<number> {
  let started = 0;
  const worker = async (): Promise<void> => {
    while (started < count) {
      started += 1;
      await callOnce(mode);
    }
  };
  const before = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

process.stdout.write(
  `upstream client CPU: ${calls} calls per run, concurrency ${concurrency}, node ${process.version}; ` +
    `load average before ${loadavg()
      .map((value) => value.toFixed(2))
      .join(' ')}\n`,
);
for (const mode of modes) await run(mode, Math.min(5000, calls)); // warm-up (JIT, connections)
const results = new Map<Mode, number[]>(modes.map((mode) => [mode, []]));
for (let round = 0; round < rounds; round += 1) {
  for (const mode of modes) results.get(mode)?.push(await run(mode, calls));
}
for (const [mode, figures] of results) {
  const sorted = [...figures].sort((a, b) => a - b);
  process.stdout.write(
    `${mode.padEnd(18)} µs CPU/call: ${figures.map((value) => value.toFixed(1)).join(', ')} ` +
      `(median ${sorted[Math.floor(sorted.length / 2)]?.toFixed(1)})\n`,
  );
}
process.stdout.write(
  `load average after ${loadavg()
    .map((value) => value.toFixed(2))
    .join(' ')}\n`,
);
await pools.close();
backendProcess.kill();
