// Prints a curl command carrying an RFC 9421 hmac-sha256 signature: the worked example of the docs.
// Usage: pnpm exec tsx packages/auth/src/cli/sign-request.ts --key-id partner-1 --secret-file secret.txt \
//   --method POST --url http://127.0.0.1:8080/v1/chat/completions \
//   --header 'content-type: application/json' --data '{"model":"demo","messages":[]}'
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createSigner } from '../create-signer.js';
import type { CliOutput } from './cli-output.js';
import { isMainModule } from './main-module.js';
import { quoteShellArgument } from './shell-quote.js';

const USAGE = `usage: sign-request --key-id <id> (--secret <base64> | --secret-file <path>) --url <absolute url>
  [--method GET] [--header 'name: value']... [--data <text> | --data-file <path>]
  [--components '@method,@path,@query,content-digest'] [--created <unix seconds>] [--nonce <text>]
A body is sent as application/json unless a --header gives its content-type.
`;

const OPTIONS = {
  'key-id': { type: 'string' },
  secret: { type: 'string' },
  'secret-file': { type: 'string' },
  url: { type: 'string' },
  method: { type: 'string', default: 'GET' },
  header: { type: 'string', multiple: true },
  data: { type: 'string' },
  'data-file': { type: 'string' },
  components: { type: 'string' },
  created: { type: 'string' },
  nonce: { type: 'string' },
} as const;

/** Injected so that tests are deterministic and need no files. */
export interface SignRequestCliDependencies {
  /** Milliseconds since the epoch, for `created` when --created is not given. */
  readonly nowMs: number;
  readonly readFile: (path: string) => Uint8Array;
}

class UsageError extends Error {}

/** An HTTP method is a token (RFC 9110 §9.1); anything else cannot be sent, nor pasted into a shell safely. */
const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** The data plane refuses shorter signing secrets (MIN_SIGNING_SECRET_BYTES). */
const MIN_SECRET_BYTES = 16;

/** Runs the command; returns the exit code (0 ok, 2 usage error). */
export function runSignRequest(
  argv: readonly string[],
  output: CliOutput,
  dependencies: SignRequestCliDependencies,
): number {
  try {
    output.stdout.write(`${buildCurlCommand(argv, dependencies)}\n`);
    return 0;
  } catch (error: unknown) {
    // Bad arguments (parseArgs errors, unsignable requests) are reported as usage errors.
    output.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
}

function buildCurlCommand(argv: readonly string[], dependencies: SignRequestCliDependencies): string {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS, strict: true });
  const keyId = required(values['key-id'], '--key-id');
  const url = required(values.url, '--url');
  if (values.secret !== undefined && values['secret-file'] !== undefined) {
    throw new UsageError('give --secret or --secret-file, not both');
  }
  const secretText =
    values['secret-file'] === undefined
      ? required(values.secret, '--secret or --secret-file')
      : Buffer.from(dependencies.readFile(values['secret-file'])).toString('utf8').trim();
  const secret = decodeSecret(secretText);
  const method = values.method.toUpperCase();
  if (!HTTP_TOKEN.test(method)) {
    throw new UsageError(
      `--method must be an HTTP method name (e.g. POST), got ${JSON.stringify(values.method)}`,
    );
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of (values.header ?? []).map(parseHeaderArgument)) {
    // One field per name: a second value would silently replace the first (neither signed nor sent).
    if (Object.hasOwn(headers, name)) {
      throw new UsageError(`--header ${name} is given twice; send one field with the values joined by ", "`);
    }
    headers[name] = value;
  }
  // The router refuses a signed request that also carries an Authorization field (ambiguous_credentials).
  if (Object.hasOwn(headers, 'authorization')) {
    throw new UsageError('--header authorization: a signed request must not carry another credential');
  }
  const body = readBody(values.data, values['data-file'], dependencies);
  // curl sends a --data-binary body as application/x-www-form-urlencoded, which the router refuses (415):
  // a body goes as JSON unless a --header names its type.
  if (body !== undefined && !Object.hasOwn(headers, 'content-type')) {
    headers['content-type'] = 'application/json';
  }
  if (values.created !== undefined && !/^\d{1,15}$/.test(values.created)) {
    throw new UsageError('--created must be Unix seconds');
  }
  const sign = createSigner({
    keyId,
    secret,
    components: values.components?.split(',').map((component) => component.trim()),
    clock: { now: () => (values.created === undefined ? dependencies.nowMs : Number(values.created) * 1000) },
    ...(values.nonce === undefined ? {} : { createNonce: () => values.nonce ?? '' }),
  });
  const signed = sign({ method, url, headers, body });
  const target = new URL(url);
  // curl sends a URL's user:password as Authorization: Basic, which the router refuses next to a signature.
  if (target.username !== '' || target.password !== '') {
    throw new UsageError('--url must not hold user:password (curl would send them as a second credential)');
  }
  // --globoff: curl would otherwise expand {a,b} and [1-2] in the URL into several requests, none of them
  // the one that was signed.
  const words = [
    'curl',
    '-sS',
    '--globoff',
    '-X',
    quoteShellArgument(method),
    quoteShellArgument(target.href),
  ];
  for (const [name, value] of Object.entries(signed)) {
    // curl drops "-H 'name:'" (no value) instead of sending it; "name;" is its spelling of an empty field.
    const header = value === '' ? `${name};` : `${name}: ${value}`;
    words.push(`\\\n  -H ${quoteShellArgument(header)}`);
  }
  if (values['data-file'] !== undefined) {
    words.push(`\\\n  --data-binary ${quoteShellArgument(`@${values['data-file']}`)}`);
  } else if (values.data !== undefined) {
    // curl reads a file for a --data-binary value that starts with "@"; --data-raw sends the text as given.
    const flag = values.data.startsWith('@') ? '--data-raw' : '--data-binary';
    words.push(`\\\n  ${flag} ${quoteShellArgument(values.data)}`);
  }
  return words.join(' ');
}

/**
 * The secret's bytes. Checked as the data plane checks a key's signing secret (base64 or base64url text of
 * at least 16 bytes), because Node's base64 decoder skips characters it does not know: a secret pasted in
 * another form would otherwise sign with other bytes and fail as `bad_signature` at the router.
 */
function decodeSecret(text: string): Uint8Array {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
    throw new UsageError(
      "the secret must be base64 or base64url text (as in the data plane's signing secret)",
    );
  }
  const secret = Buffer.from(text, 'base64');
  if (secret.length < MIN_SECRET_BYTES) {
    throw new UsageError(
      `the secret is ${secret.length} bytes; the router accepts ${MIN_SECRET_BYTES} or more`,
    );
  }
  return secret;
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') {
    throw new UsageError(`${flag} is required`);
  }
  return value;
}

function parseHeaderArgument(text: string): [string, string] {
  const colon = text.indexOf(':');
  if (colon <= 0) {
    throw new UsageError(`--header must look like 'name: value', got ${JSON.stringify(text)}`);
  }
  return [text.slice(0, colon).trim().toLowerCase(), text.slice(colon + 1).trim()];
}

function readBody(
  data: string | undefined,
  dataFile: string | undefined,
  dependencies: SignRequestCliDependencies,
): Uint8Array | undefined {
  if (data !== undefined && dataFile !== undefined) {
    throw new UsageError('give --data or --data-file, not both');
  }
  if (dataFile !== undefined) {
    return dependencies.readFile(dataFile);
  }
  return data === undefined ? undefined : Buffer.from(data, 'utf8');
}

if (isMainModule(import.meta.url)) {
  process.exitCode = runSignRequest(
    process.argv.slice(2),
    { stdout: process.stdout, stderr: process.stderr },
    { nowMs: Date.now(), readFile: (path) => readFileSync(path) },
  );
}
