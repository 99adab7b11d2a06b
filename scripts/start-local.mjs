// Local launcher behind `make start`: spawns the built services as separate processes (as they run in
// production), waits until the data plane is ready, prints how to try it, and stops every child by pid on
// SIGINT/SIGTERM/SIGHUP, or when one of them exits. Plain JavaScript so it runs with no compile step.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const freePorts = process.argv.includes('--free-ports');
const runDir = join(root, '.tmp', 'local');
const signingSecretFile = join(runDir, 'demo-signing.secret');
const children = [];
/** Set once stopping starts: a child exiting after that is expected. */
let stopping = false;
/** DEMO-ONLY API key of configs/policies.sample.yaml (its sha256 is in the file). */
const DEMO_KEY = 'rk_demo01.YmUUyWFXfjfbBZ-cVLPCiTtQOV2YgbSUDT9XKQxfTGA';

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** The Node flags a service runs with (`apiRouter.nodeFlags` in its package.json; none when absent). */
function nodeFlagsOf(serviceDir) {
  const manifest = JSON.parse(readFileSync(join(root, serviceDir, 'package.json'), 'utf8'));
  return manifest.apiRouter?.nodeFlags ?? [];
}

/**
 * The services' pino level: LOG_LEVEL, but never quieter than info, because the launcher learns each URL
 * from the service's info-level `listening` line (with warn it waited for ever, printing nothing). It shows
 * the services' lines only with LOCAL_VERBOSE anyway (and errors always). Unknown levels go as given: the
 * service refuses them at start.
 */
function serviceLogLevel(level = 'info') {
  return ['warn', 'error', 'fatal', 'silent'].includes(level) ? 'info' : level;
}

/** Spawns a built service and resolves with the URL of the listener named `server` once it logs it. */
function startService(name, entry, env, server) {
  const serviceDir = entry.slice(0, entry.indexOf('/dist/'));
  const child = spawn(process.execPath, [...nodeFlagsOf(serviceDir), join(root, entry)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    // A process group of its own: Ctrl-C signals the terminal's whole foreground group, and a service that
    // got that SIGINT and then stopAll's SIGTERM took the second as "exit at once" (the control plane
    // skipped its graceful shutdown). Only the launcher stops the services, once each, by pid.
    detached: true,
  });
  children.push({ name, child });
  const lines = createInterface({ input: child.stdout });
  let listening = false;
  return new Promise((done, fail) => {
    child.once('exit', (code, signal) => {
      if (!listening) fail(new Error(`${name} exited with code ${code} before listening`));
      // After start (a crash, or a kill from outside): stop the others rather than leave them running.
      else if (!stopping) {
        process.stderr.write(`[${name}] exited (${signal ?? `code ${code}`}); stopping everything\n`);
        process.exitCode = 1;
        stopAll();
      }
    });
    lines.on('line', (line) => {
      if (process.env.LOCAL_VERBOSE) process.stdout.write(`[${name}] ${line}\n`);
      try {
        const record = JSON.parse(line);
        if (record.msg === 'listening' && (server === undefined || record.server === server)) {
          listening = true;
          done(record.url);
        }
        if (record.level >= 50) process.stderr.write(`[${name}] ${record.msg}\n`);
      } catch {
        // Not a JSON log line (e.g. a stack trace): show it as it is.
        process.stdout.write(`[${name}] ${line}\n`);
      }
    });
  });
}

async function waitReady(url, deadlineMs) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) return await response.json();
    } catch {
      // Not listening yet: retry until the deadline.
    }
    if (Date.now() > until) throw new Error(`data plane at ${url} not ready after ${deadlineMs} ms`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

/**
 * The variable the data plane reads the demo signing secret from (an env: reference). Not a file: reference
 * to the secret's file: a reference holds no whitespace, so a checkout path with a space made the policies
 * invalid (no control plane start, or the last run's snapshot served with its dead backend ports).
 */
const SIGNING_SECRET_VARIABLE = 'ROUTER_DEMO_SIGNING_SECRET';

/**
 * The sample policies with one addition: the demo key may also sign requests (RFC 9421), with a demo secret
 * kept in .tmp/local (made once, 32 random bytes, base64; the signer reads it there) and given to the data
 * plane in SIGNING_SECRET_VARIABLE.
 */
function writeDemoPolicies() {
  if (!existsSync(signingSecretFile)) {
    writeFileSync(signingSecretFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  }
  const sample = readFileSync(join(root, 'configs/policies.sample.yaml'), 'utf8');
  const anchor = '  - publicId: rk_demo01\n';
  if (!sample.includes(anchor)) throw new Error('configs/policies.sample.yaml has no rk_demo01 key');
  const policiesConfig = join(runDir, 'policies.yaml');
  writeFileSync(
    policiesConfig,
    sample.replace(
      anchor,
      `${anchor}    signingSecretRefs: [${JSON.stringify(`env:${SIGNING_SECRET_VARIABLE}`)}]\n`,
    ),
  );
  return policiesConfig;
}

/** A second stop signal this soon after the first is the same stop, delivered twice. */
const DUPLICATE_SIGNAL_MS = 1000;
let stoppedAtMs = 0;

/**
 * Sends each running service SIGTERM. A repeat within DUPLICATE_SIGNAL_MS is ignored: timeout(1) signals the
 * launcher directly and again through its process group, and each service would take the second SIGTERM as
 * "exit at once", skipping its graceful shutdown. A later repeat (a second Ctrl-C) is passed on: it ends a
 * shutdown that hangs.
 */
function stopAll() {
  const nowMs = Date.now();
  if (stopping && nowMs - stoppedAtMs < DUPLICATE_SIGNAL_MS) return;
  stopping = true;
  stoppedAtMs = nowMs;
  for (const { child } of [...children].reverse()) {
    // signalCode too: a child killed by a signal has no exit code, and kill() of a gone pid throws (ESRCH).
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGTERM');
      } catch {
        // It exited meanwhile: nothing to stop.
      }
    }
  }
}

async function main() {
  mkdirSync(runDir, { recursive: true });
  const ports = freePorts
    ? {
        mockA: await freePort(),
        mockB: await freePort(),
        grpc: await freePort(),
        http: await freePort(),
        dp: await freePort(),
      }
    : { mockA: 9101, mockB: 9102, grpc: 50051, http: 8081, dp: 8080 };
  const routerConfig = join(runDir, 'router.yaml');
  writeFileSync(
    routerConfig,
    readFileSync(join(root, 'configs/router.sample.yaml'), 'utf8')
      .replaceAll('127.0.0.1:9101', `127.0.0.1:${ports.mockA}`)
      .replaceAll('127.0.0.1:9102', `127.0.0.1:${ports.mockB}`),
  );
  const policiesConfig = writeDemoPolicies();
  const common = { LOG_LEVEL: serviceLogLevel(process.env.LOG_LEVEL) };
  await Promise.all([
    startService('mock-a', 'services/mock-backend/dist/main.js', {
      ...common,
      MOCK_PORT: String(ports.mockA),
      MOCK_ID: 'mock-a',
    }),
    startService('mock-b', 'services/mock-backend/dist/main.js', {
      ...common,
      MOCK_PORT: String(ports.mockB),
      MOCK_ID: 'mock-b',
    }),
  ]);
  const cpHttp = await startService(
    'control-plane',
    'services/control-plane/dist/main.js',
    {
      ...common,
      CP_GRPC_PORT: String(ports.grpc),
      CP_HTTP_PORT: String(ports.http),
      CP_ROUTER_CONFIG: routerConfig,
      CP_POLICIES_CONFIG: policiesConfig,
      CP_STATE_DIR: join(runDir, 'control-plane'),
    },
    'http',
  );
  const dpUrl = await startService(
    'data-plane',
    'services/data-plane/dist/main.js',
    {
      ...common,
      DP_PORT: String(ports.dp),
      DP_CONTROL_PLANE_ADDRESS: `127.0.0.1:${ports.grpc}`,
      DP_CACHE_DIR: join(runDir, 'data-plane'),
      [SIGNING_SECRET_VARIABLE]: readFileSync(signingSecretFile, 'utf8').trim(),
    },
    'public',
  );
  const ready = await waitReady(dpUrl, 30_000);
  const summary = {
    dataPlane: dpUrl,
    controlPlaneHttp: cpHttp,
    controlPlaneGrpc: `127.0.0.1:${ports.grpc}`,
    policyVersion: ready.policy?.version,
  };
  writeFileSync(join(runDir, 'endpoints.json'), JSON.stringify(summary, null, 2));
  process.stdout.write(tryItText(summary, ports.grpc));
}

/** `text` as one shell word: as it is when it holds only safe characters, else in single quotes. */
function shellWord(text) {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

/** What to print once everything runs: endpoints and requests to copy. */
function tryItText(summary, grpcPort) {
  const { dataPlane, controlPlaneHttp } = summary;
  const key = `-H 'Authorization: Bearer ${DEMO_KEY}'`;
  const json = "-H 'content-type: application/json'";
  const hello = '{"model":"demo-chat","messages":[{"role":"user","content":"Hello"}]}';
  const helloStream = '{"model":"demo-chat","stream":true,"messages":[{"role":"user","content":"Hello"}]}';
  const inference =
    '{"model":"demo-chat","messages":[{"role":"user","content":"Hello"}],"max_output_tokens":8}';
  return `
API router is running (policy version ${summary.policyVersion}).
  data plane     ${dataPlane}
  control plane  ${controlPlaneHttp}  (admin API, metrics)   gRPC policy sync on 127.0.0.1:${grpcPort}

Try it (demo credentials from configs/*.sample.yaml; change them before any real use):
  # OpenAI-compatible chat completion (add -i to see the x-router-* metric headers)
  curl -s ${dataPlane}/v1/chat/completions ${key} ${json} \\
       -d '${hello}'
  # The router's own API: completion, usage and a "router" block (request id, backend, attempts, latencies)
  curl -s ${dataPlane}/v1/inference ${key} ${json} \\
       -d '${inference}'
  # Streaming (server-sent events)
  curl -sN ${dataPlane}/v1/chat/completions ${key} ${json} \\
       -d '${helloStream}'
  # The models this key may use
  curl -s ${dataPlane}/v1/models ${key}
  # A request signed with RFC 9421 HMAC instead of the key (secret in ${signingSecretFile}):
  # the reference signer prints a curl command with Signature-Input, Signature and Content-Digest; sh runs it
  node ${shellWord(join(root, 'packages/auth/dist/cli/sign-request.js'))} --key-id rk_demo01 --secret-file ${shellWord(signingSecretFile)} \\
       --method POST --url ${dataPlane}/v1/chat/completions --header 'content-type: application/json' \\
       --data '${hello}' | sh

  curl -s ${dataPlane}/readyz
  curl -s ${dataPlane}/metrics | grep -E '^router_(requests|overhead|policy)'
  curl -s -H 'Authorization: Bearer admin-demo-token-change-me' -H 'Content-Type: application/json' \\
       -d '{}' ${controlPlaneHttp}/router.v1.AdminService/ListDataPlanes

Press Ctrl-C to stop.
`;
}

process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);
// A closed terminal or session: without this, Node's default would exit the launcher alone and leave the
// four services running, holding their ports.
process.on('SIGHUP', stopAll);
main().catch((error) => {
  process.stderr.write(`start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  stopAll();
  process.exitCode = 1;
});
