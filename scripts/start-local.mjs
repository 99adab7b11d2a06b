// Local launcher behind `make start`: spawns the built services as separate processes (as they run in
// production), waits until the data plane is ready, prints how to try it, and stops every child by pid on
// SIGINT/SIGTERM/SIGHUP, or when one of them exits. Plain JavaScript so it runs with no compile step.
// Its parts in scripts/local/: the command line (options.mjs), the run directory's lock and the record of
// its services (run-lock.mjs), which service log lines are shown (service-log.mjs), what is printed once it
// runs (try-it.mjs).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { join, resolve } from 'node:path';
import { parseOptions } from './local/options.mjs';
import { RunLock } from './local/run-lock.mjs';
import { ServiceLogRelay, serviceLogLevel } from './local/service-log.mjs';
import { tryItText } from './local/try-it.mjs';

const root = resolve(import.meta.dirname, '..');
const options = parseOptions(process.argv.slice(2));
const freePorts = options.freePorts;
// Relative to where the launcher was started, as a user typing it expects (start.sh does not cd).
const runDir = resolve(process.env.LOCAL_RUN_DIR || join(root, '.tmp', 'local'));
const signingSecretFile = join(runDir, 'demo-signing.secret');
const runLock = new RunLock(runDir);
const children = [];
/** Set once stopping starts: a child exiting after that is expected. */
let stopping = false;
/** Set when a service could not listen because its port is taken (by another router, say). */
let portTaken = false;
/** What a service's start rejects with when the launcher stopped it first (its reason is shown already). */
const STOPPED = new Error('stopped');
/** What of the services' log lines is shown without LOCAL_VERBOSE. */
const logRelay = new ServiceLogRelay();

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
  children.push({ name, child, entry });
  runLock.recordServices(children);
  const lines = createInterface({ input: child.stdout });
  let listening = false;
  return new Promise((done, fail) => {
    child.once('exit', (code, signal) => {
      // Stopped by the launcher before it listened (another service failed, or Ctrl-C during start): that
      // one's reason is already shown, and "data-plane exited with code null" after it only misled.
      if (!listening)
        fail(stopping ? STOPPED : new Error(`${name} exited with code ${code} before listening`));
      // After start (a crash, or a kill from outside): stop the others rather than leave them running.
      else if (!stopping) {
        process.stderr.write(`[${name}] exited (${signal ?? `code ${code}`}); stopping everything\n`);
        process.exitCode = 1;
        stopAll();
      }
    });
    lines.on('line', (line) => {
      if (process.env.LOCAL_VERBOSE) process.stdout.write(`[${name}] ${line}\n`);
      let record;
      try {
        record = JSON.parse(line);
      } catch {
        // Not a JSON log line (e.g. a stack trace): show it as it is.
        process.stdout.write(`[${name}] ${line}\n`);
        return;
      }
      if (record.msg === 'listening' && (server === undefined || record.server === server)) {
        listening = true;
        done(record.url);
      }
      const shown = logRelay.shown(record);
      if (shown !== undefined) process.stderr.write(`[${name}] ${shown}\n`);
      if (shown?.includes('EADDRINUSE')) portTaken = true;
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

/** Makes the demo signing secret once, in signingSecretFile. */
function demoSigningSecret() {
  if (!existsSync(signingSecretFile)) {
    writeFileSync(signingSecretFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  }
}

/**
 * The sample policies with one addition: the demo key may also sign requests (RFC 9421), with a demo secret
 * kept in .tmp/local (made once, 32 random bytes, base64; the signer reads it there) and given to the data
 * plane in SIGNING_SECRET_VARIABLE.
 */
function writeDemoPolicies() {
  demoSigningSecret();
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

/** What the launcher runs: each service's build output, which `bash scripts/setup.sh` makes. */
const BUILT_ENTRIES = [
  'services/mock-backend/dist/main.js',
  'services/control-plane/dist/main.js',
  'services/data-plane/dist/main.js',
  'packages/auth/dist/cli/sign-request.js',
];

async function main() {
  // Before anything starts: without a build, Node's "Cannot find module" stack trace and "mock-a exited
  // with code 1" said nothing of what to do.
  const missing = BUILT_ENTRIES.filter((entry) => !existsSync(join(root, entry)));
  if (missing.length > 0) {
    throw new Error(
      `not built (no ${missing.join(', ')}): run \`bash scripts/setup.sh\` first (\`make start\` does both)`,
    );
  }
  mkdirSync(runDir, { recursive: true });
  runLock.take();
  process.on('exit', () => runLock.release());
  runLock.checkLeftServices();
  const ports = freePorts
    ? {
        mockA: await freePort(),
        mockB: await freePort(),
        grpc: await freePort(),
        http: await freePort(),
        dp: await freePort(),
      }
    : { mockA: 9101, mockB: 9102, grpc: 50051, http: 8081, dp: 8080 };
  const routerConfig = options.routerConfig ?? join(runDir, 'router.yaml');
  if (options.routerConfig === undefined) {
    writeFileSync(
      routerConfig,
      readFileSync(join(root, 'configs/router.sample.yaml'), 'utf8')
        .replaceAll('127.0.0.1:9101', `127.0.0.1:${ports.mockA}`)
        .replaceAll('127.0.0.1:9102', `127.0.0.1:${ports.mockB}`),
    );
  }
  // The demo signing secret is made either way: the data plane gets it, whatever the policies refer to.
  const policiesConfig = options.policiesConfig ?? writeDemoPolicies();
  if (options.policiesConfig !== undefined) demoSigningSecret();
  const common = { LOG_LEVEL: serviceLogLevel(process.env.LOG_LEVEL) };
  const mockEnv = (id, port) => ({ ...common, MOCK_PORT: String(port), MOCK_ID: id });
  const cpEnv = {
    ...common,
    CP_GRPC_PORT: String(ports.grpc),
    CP_HTTP_PORT: String(ports.http),
    CP_ROUTER_CONFIG: routerConfig,
    CP_POLICIES_CONFIG: policiesConfig,
    CP_STATE_DIR: join(runDir, 'control-plane'),
  };
  const dpEnv = {
    ...common,
    DP_PORT: String(ports.dp),
    DP_CONTROL_PLANE_ADDRESS: `127.0.0.1:${ports.grpc}`,
    DP_CACHE_DIR: join(runDir, 'data-plane'),
    [SIGNING_SECRET_VARIABLE]: readFileSync(signingSecretFile, 'utf8').trim(),
  };
  noteInheritedVariables([mockEnv('mock-a', ports.mockA), cpEnv, dpEnv]);
  await Promise.all([
    startService('mock-a', 'services/mock-backend/dist/main.js', mockEnv('mock-a', ports.mockA)),
    startService('mock-b', 'services/mock-backend/dist/main.js', mockEnv('mock-b', ports.mockB)),
  ]);
  const cpHttp = await startService('control-plane', 'services/control-plane/dist/main.js', cpEnv, 'http');
  const dpUrl = await startService('data-plane', 'services/data-plane/dist/main.js', dpEnv, 'public');
  const ready = await waitReady(dpUrl, 30_000);
  const summary = {
    dataPlane: dpUrl,
    controlPlaneHttp: cpHttp,
    controlPlaneGrpc: `127.0.0.1:${ports.grpc}`,
    policyVersion: ready.policy?.version,
  };
  writeFileSync(join(runDir, 'endpoints.json'), JSON.stringify(summary, null, 2));
  process.stdout.write(
    tryItText(summary, {
      grpcPort: ports.grpc,
      policiesConfig: options.policiesConfig,
      signingSecretFile,
      root,
    }),
  );
  if (logRelay.configRejected) {
    process.stderr.write(
      `\nThe config was rejected (see above): the router serves the last good snapshot ` +
        `(version ${summary.policyVersion}), not your edit.\n`,
    );
  }
}

/**
 * Names the CP_*, DP_* and MOCK_* variables of the caller's environment that the services get (startService
 * passes the environment on) over their embedded defaults: one exported for another project (DP_REDIS_URL,
 * say) would otherwise change the quick start silently. Those the launcher sets itself win and are not named.
 */
function noteInheritedVariables(serviceEnvs) {
  const setHere = new Set(serviceEnvs.flatMap((env) => Object.keys(env)));
  const inherited = Object.keys(process.env)
    .filter((name) => /^(CP|DP|MOCK)_/.test(name) && !setHere.has(name))
    .sort();
  if (inherited.length === 0) return;
  process.stderr.write(
    `note: the services also get ${inherited.join(', ')} from your environment, over their embedded ` +
      'defaults (unset them for a plain quick start)\n',
  );
}

process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);
// A closed terminal or session: without this, Node's default would exit the launcher alone and leave the
// four services running, holding their ports.
process.on('SIGHUP', stopAll);
main().catch((error) => {
  if (error !== STOPPED) {
    process.stderr.write(`start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  if (portTaken && !freePorts) {
    process.stderr.write('a port is taken: stop what listens on it, or start with --free-ports\n');
  }
  stopAll();
  process.exitCode = 1;
});
