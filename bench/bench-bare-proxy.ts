import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, repoRoot, stopPid } from '@api-router/testing';
import { eventually } from '../test/support/planes.js';

export interface BareProxy {
  url: string;
  child: ChildProcess;
  /** Its stdout (its listening line and the GC trace of `nodeFlags`), when `keepLog`. */
  logFile: string | undefined;
}

export interface BareProxyOptions {
  /** The backend origin it relays to. */
  upstream: string;
  /** A chat-completions body it must answer 2xx before it counts as ready. */
  readyBody: string;
  /** The Node.js binary; default the benchmark's own. */
  nodePath?: string | undefined;
  /** Node flags (e.g. --trace-gc-nvp). */
  nodeFlags: readonly string[];
  keepLog: boolean;
}

/** services/data-plane/bench/bare-proxy.ts in front of `upstream`, ready when it answers. */
export async function startBareProxy(options: BareProxyOptions): Promise<BareProxy> {
  const port = await freePort();
  const logFile = options.keepLog
    ? join(mkdtempSync(join(tmpdir(), 'bench-bare-proxy-')), 'bare-proxy.log')
    : undefined;
  const stdout = logFile === undefined ? 'ignore' : openSync(logFile, 'a');
  const child = spawn(
    options.nodePath ?? process.execPath,
    [...options.nodeFlags, '--import', 'tsx', 'services/data-plane/bench/bare-proxy.ts'],
    {
      cwd: repoRoot(),
      stdio: ['ignore', stdout, 'inherit'],
      env: { ...process.env, PORT: String(port), UPSTREAM: options.upstream },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await eventually(async () => {
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: options.readyBody,
      }).catch(() => undefined);
      return response?.ok === true ? true : undefined;
    }, 30_000);
  } catch (error: unknown) {
    if (child.pid !== undefined) await stopPid(child.pid);
    throw new Error('bare proxy not ready', { cause: error });
  }
  return { url, child, logFile };
}
