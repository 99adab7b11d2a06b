import { describe, expect, it } from 'vitest';
import { createMemoryNonceStore } from '../nonce-store/memory-nonce-store.js';
import { verifyRequest } from '../message-signature/verify-request.js';
import { runSignRequest } from './sign-request.js';

const SECRET_TEXT = Buffer.alloc(32, 1).toString('base64url');
const NOW_MS = 1_750_000_000_000;

function run(argv: string[], files: Record<string, Uint8Array> = {}) {
  const output = { stdout: '', stderr: '' };
  const code = runSignRequest(
    argv,
    {
      stdout: { write: (text: string) => (output.stdout += text) },
      stderr: { write: (text: string) => (output.stderr += text) },
    },
    {
      nowMs: NOW_MS,
      readFile: (path) => {
        const content = files[path];
        if (content === undefined) throw new Error(`ENOENT: ${path}`);
        return content;
      },
    },
  );
  return { code, ...output };
}

/** The -H values of a printed curl command, as a header map (they are single-quoted by the CLI). */
function headersOf(command: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const match of command.matchAll(/-H '([^:]+): ([^']*)'/g)) {
    headers[match[1]!] = match[2]!;
  }
  return headers;
}

describe('sign-request CLI', () => {
  it('prints a curl command whose signature verifies', async () => {
    const body = '{"model":"demo","messages":[{"role":"user","content":"it\'s me"}]}';
    const result = run([
      '--key-id',
      'partner-1',
      '--secret',
      SECRET_TEXT,
      '--method',
      'post',
      '--url',
      'http://127.0.0.1:8080/v1/chat/completions',
      '--header',
      'Content-Type: application/json',
      '--data',
      body,
      '--nonce',
      'docs-example-1',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^curl -sS --globoff -X POST http:\/\/127\.0\.0\.1:8080\/v1\/chat\/completions \\\n/,
    );
    expect(result.stdout).toContain(
      `--data-binary '{"model":"demo","messages":[{"role":"user","content":"it'\\''s me"}]}'`,
    );
    const headers = headersOf(result.stdout);
    expect(headers['Signature-Input']).toBe(
      'sig1=("@method" "@path" "@query" "content-digest");created=1750000000;keyid="partner-1";nonce="docs-example-1"',
    );
    const verified = await verifyRequest(
      { method: 'POST', url: '/v1/chat/completions', headers, body: Buffer.from(body) },
      {
        resolveSecrets: () => [Buffer.from(SECRET_TEXT, 'base64url')],
        nowMs: NOW_MS,
        nonceStore: createMemoryNonceStore({ clock: { now: () => NOW_MS }, maxEntries: 10 }),
      },
    );
    expect(verified).toEqual({ ok: true, keyId: 'partner-1', label: 'sig1' });
  });

  it('reads the secret and body from files and honours --created and --components', () => {
    const result = run(
      [
        '--key-id',
        'k',
        '--secret-file',
        '/secret',
        '--url',
        'https://router.example/v1/models?limit=5',
        '--data-file',
        '/body.json',
        '--components',
        '@method,@path,@query,@authority,content-digest',
        '--created',
        '1700000000',
      ],
      { '/secret': Buffer.from(`${SECRET_TEXT}\n`), '/body.json': Buffer.from('{}') },
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--data-binary @/body.json');
    expect(result.stdout).toContain(
      '("@method" "@path" "@query" "@authority" "content-digest");created=1700000000;',
    );
  });

  it('sends a --data text that starts with "@" as text, never as a file name for curl', () => {
    const result = run([
      '--key-id',
      'k',
      '--secret',
      SECRET_TEXT,
      '--url',
      'https://h/',
      '--data',
      '@notes.txt',
    ]);
    expect(result.code).toBe(0);
    // curl reads the file named after "@" for --data-binary (and --data): not the bytes that were signed.
    expect(result.stdout).not.toMatch(/--data(-binary)? '?@/);
    expect(result.stdout).toContain('--data-raw @notes.txt');
  });

  it('quotes the method for the shell', () => {
    const result = run(['--key-id', 'k', '--secret', SECRET_TEXT, '--url', 'https://h/', '--method', "m'&x"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^curl -sS --globoff -X 'M'\\''&X' https:\/\/h\/ /);
  });

  it.each([
    ['no key id', ['--secret', SECRET_TEXT, '--url', 'https://h/']],
    ['no secret', ['--key-id', 'k', '--url', 'https://h/']],
    ['relative url', ['--key-id', 'k', '--secret', SECRET_TEXT, '--url', '/v1/models']],
    ['bad header', ['--key-id', 'k', '--secret', SECRET_TEXT, '--url', 'https://h/', '--header', 'nocolon']],
    [
      'repeated header',
      [
        '--key-id',
        'k',
        '--secret',
        SECRET_TEXT,
        '--url',
        'https://h/',
        '--header',
        'x-a: 1',
        '--header',
        'X-A: 2',
      ],
    ],
    ['bad created', ['--key-id', 'k', '--secret', SECRET_TEXT, '--url', 'https://h/', '--created', 'soon']],
    [
      'both bodies',
      ['--key-id', 'k', '--secret', SECRET_TEXT, '--url', 'https://h/', '--data', 'a', '--data-file', 'b'],
    ],
    [
      'both secrets',
      ['--key-id', 'k', '--secret', SECRET_TEXT, '--secret-file', '/secret', '--url', 'https://h/'],
    ],
    // Node's base64 decoder would skip the space and "!" and sign with other bytes than the router's.
    ['secret not base64', ['--key-id', 'k', '--secret', 'my shared secret!', '--url', 'https://h/']],
    ['secret shorter than 16 bytes', ['--key-id', 'k', '--secret', 'c2hvcnQ', '--url', 'https://h/']],
    [
      'method with a space',
      ['--key-id', 'k', '--secret', SECRET_TEXT, '--url', 'https://h/', '--method', 'PO ST'],
    ],
    [
      'method with shell syntax',
      ['--key-id', 'k', '--secret', SECRET_TEXT, '--url', 'https://h/', '--method', 'GET;id'],
    ],
    // curl would send either as an Authorization field next to the signature: ambiguous_credentials, always.
    ['credentials in the url', ['--key-id', 'k', '--secret', SECRET_TEXT, '--url', 'https://u:p@h/']],
    [
      'an authorization header',
      ['--key-id', 'k', '--secret', SECRET_TEXT, '--url', 'https://h/', '--header', 'Authorization: x'],
    ],
    [
      'uncoverable component',
      ['--key-id', 'k', '--secret', SECRET_TEXT, '--url', 'https://h/', '--components', 'x-absent'],
    ],
  ])('exits 2 with usage for %s', (_name, argv) => {
    const result = run(argv, { '/secret': Buffer.from(SECRET_TEXT) });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('usage: sign-request');
    expect(result.stdout).toBe('');
  });
});
