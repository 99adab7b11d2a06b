// Runs the printed curl command (real curl, through sh) against a loopback server that verifies what
// arrives: the command must send exactly the request that was signed, once.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryNonceStore } from '../nonce-store/memory-nonce-store.js';
import { type VerifyingServer, startVerifyingServer } from '../verifying-server.test-support.js';
import { runSignRequest } from './sign-request.js';

const SECRET_TEXT = Buffer.alloc(32, 3).toString('base64url');
const NOW_MS = 1_750_000_000_000;

let server: VerifyingServer;
let baseUrl: string;

beforeAll(async () => {
  server = await startVerifyingServer({
    resolveSecrets: () => [Buffer.from(SECRET_TEXT, 'base64url')],
    nowMs: NOW_MS,
    nonceStore: createMemoryNonceStore({ clock: { now: () => NOW_MS }, maxEntries: 100 }),
    requiredComponents: [],
  });
  baseUrl = server.url;
});

afterAll(async () => {
  await server.close();
});

function printCommand(argv: string[]): string {
  let stdout = '';
  const code = runSignRequest(
    ['--key-id', 'partner-1', '--secret', SECRET_TEXT, ...argv],
    { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: () => true } },
    { nowMs: NOW_MS, readFile: () => new Uint8Array() },
  );
  expect(code).toBe(0);
  return stdout;
}

/** Runs the command with sh; resolves to curl's exit code. */
async function runCommand(command: string): Promise<number | null> {
  const child = spawn('sh', ['-c', command], { stdio: 'ignore' });
  try {
    return await new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => resolve(code));
    });
  } finally {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      process.kill(child.pid);
    }
  }
}

describe('sign-request CLI, its curl command run for real', () => {
  it('sends a URL with curl glob characters ({a,b}, [1-2]) once and as signed', async () => {
    const path = '/v1/models?q={a,b}&page=[1-2]';
    const command = printCommand(['--url', `${baseUrl}${path}`]);
    await expect(runCommand(command)).resolves.toBe(0);
    expect(server.received.splice(0)).toEqual([{ url: path, result: expect.objectContaining({ ok: true }) }]);
  });

  it('sends a body as JSON when no content-type is given (curl would send a form, which the router refuses)', async () => {
    const body = '{"model":"demo-chat","messages":[{"role":"user","content":"Hello"}]}';
    const command = printCommand([
      '--method',
      'POST',
      '--url',
      `${baseUrl}/v1/chat/completions`,
      '--data',
      body,
    ]);
    await expect(runCommand(command)).resolves.toBe(0);
    expect(server.received.splice(0)).toEqual([
      {
        url: '/v1/chat/completions',
        result: expect.objectContaining({ ok: true }),
        contentType: 'application/json',
      },
    ]);
  });

  it('keeps the content-type given', async () => {
    const command = printCommand([
      '--method',
      'POST',
      '--url',
      `${baseUrl}/v1/chat/completions`,
      '--header',
      'Content-Type: application/json; charset=utf-8',
      '--data',
      '{}',
    ]);
    await expect(runCommand(command)).resolves.toBe(0);
    expect(server.received.splice(0)).toEqual([
      {
        url: '/v1/chat/completions',
        result: expect.objectContaining({ ok: true }),
        contentType: 'application/json; charset=utf-8',
      },
    ]);
  });

  it('sends a covered header whose value is empty', async () => {
    const command = printCommand([
      '--url',
      `${baseUrl}/v1/models`,
      '--header',
      'x-empty:',
      '--components',
      '@method,@path,@query,content-digest,x-empty',
    ]);
    await expect(runCommand(command)).resolves.toBe(0);
    expect(server.received.splice(0)).toEqual([
      { url: '/v1/models', result: expect.objectContaining({ ok: true }) },
    ]);
  });
});
