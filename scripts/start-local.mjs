// Local launcher behind `make start`: spawns the built services as separate processes (as they run in
// production), waits until the data plane is ready, prints how to try it, and stops every child by pid on
// SIGINT/SIGTERM/SIGHUP, or when one of them exits. Plain JavaScript so it runs with no compile step.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const USAGE = `usage: bash scripts/start.sh [--free-ports] [--router-config FILE] [--policies-config FILE]
  --free-ports             pick free ports instead of 8080, 8081, 50051, 9101 and 9102
  --router-config FILE     your router config instead of configs/router.sample.yaml, watched as it is
  --policies-config FILE   your policies config instead of configs/policies.sample.yaml, watched as it is
environment: LOCAL_VERBOSE=1 shows the services' log lines; LOCAL_RUN_DIR (default .tmp/local) is where
this run keeps its files, one run at a time
`;
const options = parseOptions(process.argv.slice(2));
const freePorts = options.freePorts;
// Relative to where the launcher was started, as a user typing it expects (start.sh does not cd).
const runDir = resolve(process.env.LOCAL_RUN_DIR || join(root, '.tmp', 'local'));
const signingSecretFile = join(runDir, 'demo-signing.secret');
/** Holds the pid of the launcher using runDir: two runs sharing it overwrite each other's files. */
const lockFile = join(runDir, 'launcher.pid');
const children = [];
/** Set once stopping starts: a child exiting after that is expected. */
let stopping = false;
/** Set when a service could not listen because its port is taken (by another router, say). */
let portTaken = false;
/** What a service's start rejects with when the launcher stopped it first (its reason is shown already). */
const STOPPED = new Error('stopped');
/** Set when the control plane rejected the config (or a data plane the snapshot): told again once ready. */
let configRejected = false;
/** DEMO-ONLY API key of configs/policies.sample.yaml (its sha256 is in the file). */
const DEMO_KEY = 'rk_demo01.YmUUyWFXfjfbBZ-cVLPCiTtQOV2YgbSUDT9XKQxfTGA';

/**
 * The command line. An unknown option fails rather than being ignored: `--free-port` (a typo) used to start
 * on the default ports, and fail there if they were taken, with nothing pointing at the typo.
 */
function parseOptions(args) {
  const parsed = { freePorts: false, routerConfig: undefined, policiesConfig: undefined };
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index];
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg];
    if (name === '--free-ports' && inline === undefined) parsed.freePorts = true;
    else if (name === '--router-config' || name === '--policies-config') {
      const value = inline ?? args[(index += 1)];
      if (value === undefined || value === '') usageError(`${name} needs a file`);
      if (!existsSync(value)) usageError(`${name}: no file ${value}`);
      parsed[name === '--router-config' ? 'routerConfig' : 'policiesConfig'] = resolve(value);
    } else if (name === '--help' || name === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else usageError(`unknown option ${arg}`);
  }
  return parsed;
}

function usageError(message) {
  process.stderr.write(`start: ${message}\n${USAGE}`);
  process.exit(2);
}

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
 * from the service's info-level `listening` line (with warn it waited for ever, printing nothing), and
 * shows config rejections from warn-level lines. It shows the services' other lines only with LOCAL_VERBOSE
 * anyway (and errors always). Unknown levels go as given: the service refuses them at start.
 */
function serviceLogLevel(level = 'info') {
  return ['warn', 'error', 'fatal', 'silent'].includes(level) ? 'info' : level;
}

/**
 * Log messages shown without LOCAL_VERBOSE although only warnings: a config the control plane rejects, or a
 * snapshot a data plane rejects, leaves the router serving the last good (or the persisted) policy, and
 * nothing else tells the user that their edit is not what runs. The services log these under these fixed
 * messages (services/control-plane/src/snapshot-publisher.ts, services/data-plane/src/policy/
 * policy-holder.ts).
 */
const REJECTIONS = new Set([
  'config rejected; keeping last good snapshot',
  'config source failed; keeping last good snapshot',
  'policy rejected',
]);
/** Issues listed per rejected config; the rest are counted (GetConfigStatus has the first one too). */
const MAX_ISSUES_SHOWN = 5;

/** The text to show for a service's log record whatever LOCAL_VERBOSE says, or undefined for none. */
function alwaysShown(record) {
  if (REJECTIONS.has(record.msg)) {
    configRejected = true;
    return rejectionText(record);
  }
  // After a rejection was shown, the fix that follows is shown too (else the last word would be the error);
  // "unchanged" when the fix restores what the snapshot being served came from.
  if ((record.msg === 'snapshot published' || record.msg === 'config unchanged') && configRejected) {
    configRejected = false;
    return `config accepted again: serving snapshot ${record.version}`;
  }
  if (!(record.level >= 50)) return undefined;
  // An error's reason is in its err (e.g. "control plane failed to start" because the config is invalid and
  // nothing was persisted): the message alone said that something failed, not what.
  const reason = typeof record.err?.message === 'string' ? `: ${record.err.message}` : '';
  return `${record.msg}${reason}`;
}

/** A rejection record as lines a user can act on: which file, where, and why. */
function rejectionText(record) {
  if (record.msg === 'policy rejected') {
    const active = `still serving version ${record.activeVersion}`;
    return `policy rejected (version ${record.version}): ${record.reason}; ${active}`;
  }
  const issues = Array.isArray(record.issues)
    ? record.issues
    : [{ source: record.source, path: '', line: 0, message: record.reason }];
  const where = (issue) =>
    `${issue.source ?? '?'}${issue.line > 0 ? `:${issue.line}` : ''}${issue.path ? ` ${issue.path}` : ''}`;
  const listed = issues.slice(0, MAX_ISSUES_SHOWN).map((issue) => `\n    ${where(issue)}: ${issue.message}`);
  const more = issues.length > MAX_ISSUES_SHOWN ? `\n    … and ${issues.length - MAX_ISSUES_SHOWN} more` : '';
  return `${record.msg}${listed.join('')}${more}`;
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
  recordServicePids();
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
      const shown = alwaysShown(record);
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

/**
 * Takes lockFile for this run, atomically: the pid is written to a file of our own, then hard-linked to the
 * lock's name, which fails when the name exists (never a half-written lock). A lock whose launcher is gone
 * (killed with SIGKILL, the machine rebooted) is moved aside and taken.
 * @throws Error naming the running launcher's pid when another one holds the lock
 */
function takeLock() {
  const ours = `${lockFile}.${process.pid}`;
  writeFileSync(ours, `${process.pid}\n`);
  try {
    for (;;) {
      try {
        linkSync(ours, lockFile);
        return;
      } catch (error) {
        if (error.code !== 'EEXIST') throw error;
      }
      const holder = readPid(lockFile);
      if (holder !== undefined && isLauncher(holder)) throw lockedError(holder);
      // Stale. Moved aside under a name of our own, then checked again: another launcher may have put its
      // own lock there since we read it; if so it goes back, and that launcher is the one running.
      const aside = `${lockFile}.stale.${process.pid}`;
      try {
        renameSync(lockFile, aside);
      } catch (error) {
        if (error.code === 'ENOENT') continue;
        throw error;
      }
      const moved = readPid(aside);
      if (moved !== holder && moved !== undefined && isLauncher(moved)) {
        try {
          linkSync(aside, lockFile);
        } finally {
          unlinkSync(aside);
        }
        throw lockedError(moved);
      }
      unlinkSync(aside);
    }
  } finally {
    unlinkSync(ours);
  }
}

function lockedError(pid) {
  const shownDir = shownPath(runDir);
  return new Error(
    `another start (pid ${pid}) is running with ${shownDir}; stop it first (Ctrl-C in its terminal, or ` +
      `kill ${pid}), or run this one with a directory of its own: ` +
      `LOCAL_RUN_DIR=${shellWord(`${shownDir}-2`)} bash scripts/start.sh --free-ports`,
  );
}

/** `path` relative to the working directory when it lies below it (shorter to read), else absolute. */
function shownPath(path) {
  const below = relative(process.cwd(), path);
  return below !== '' && !below.startsWith('..') ? below : path;
}

/** The pid written in `file`, or undefined when it is gone or holds no pid. */
function readPid(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Whether `pid` is a running launcher. A live pid whose command line (Linux /proc) is not this script's is
 * a pid reused since the launcher that wrote it died.
 */
function isLauncher(pid) {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: alive, but another user's; counted as running rather than taken over.
    if (error.code !== 'EPERM') return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('start-local.mjs');
  } catch {
    // No /proc (macOS), or the process ended meanwhile: alive as far as kill(0) could tell.
    return existsSync(`/proc/${pid}`) || !existsSync('/proc/self');
  }
}

/** Removes lockFile when it is still ours (a launcher refused by the lock never held it). */
function releaseLock() {
  if (readPid(lockFile) !== process.pid) return;
  // Kept while a service outlived us (it ignored SIGTERM): the next start then names it.
  if (leftServices().length === 0) rmSync(servicesFile, { force: true });
  unlinkSync(lockFile);
}

/**
 * `<pid> <entry>` of each service this run started, for the next run: the services run in process groups of
 * their own, so a launcher killed with SIGKILL (or by the OOM killer) leaves them running, holding the ports
 * and the files of the run directory (the control plane's state, the data plane's outbox and cache).
 */
const servicesFile = join(runDir, 'services.pids');

function recordServicePids() {
  const lines = children.map(({ child, entry }) => `${child.pid} ${entry}\n`);
  writeFileSync(servicesFile, lines.join(''));
}

/** The services of servicesFile still running (their pid runs their entry: not a pid reused since). */
function leftServices() {
  let text;
  try {
    text = readFileSync(servicesFile, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return [];
    throw error;
  }
  return text.split('\n').flatMap((line) => {
    const [pid, entry] = line.split(' ');
    if (entry === undefined) return [];
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(entry) ? [{ pid, entry }] : [];
    } catch {
      // Gone, or no /proc (macOS): not known to be left.
      return [];
    }
  });
}

/**
 * Fails when the run that held runDir before was killed but its services were not: the new ones would share
 * their ports and files.
 */
function checkLeftServices() {
  const left = leftServices();
  if (left.length === 0) return;
  const pids = left.map(({ pid }) => pid).join(' ');
  throw new Error(
    `the last start on ${shownPath(runDir)} was killed and left its services running ` +
      `(${left.map(({ pid, entry }) => `${pid} ${entry}`).join(', ')}); stop them first: kill ${pids}`,
  );
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
  takeLock();
  process.on('exit', releaseLock);
  checkLeftServices();
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
  process.stdout.write(tryItText(summary, ports.grpc));
  if (configRejected) {
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

/** `text` as one shell word: as it is when it holds only safe characters, else in single quotes. */
function shellWord(text) {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

/** The line above the printed requests: whose credentials they use. */
function tryItHeading() {
  if (options.policiesConfig === undefined) {
    return 'Try it (demo credentials from configs/*.sample.yaml; change them before any real use):';
  }
  return (
    `Try it (with the demo key of configs/policies.sample.yaml, which ${shownPath(options.policiesConfig)} ` +
    'must hold for these to work; else use a key of yours):'
  );
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

${tryItHeading()}
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
  if (error !== STOPPED) {
    process.stderr.write(`start failed: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  if (portTaken && !freePorts) {
    process.stderr.write('a port is taken: stop what listens on it, or start with --free-ports\n');
  }
  stopAll();
  process.exitCode = 1;
});
