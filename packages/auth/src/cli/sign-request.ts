// Prints a curl command carrying an RFC 9421 hmac-sha256 signature: the worked example of the docs.
// Usage: pnpm exec tsx packages/auth/src/cli/sign-request.ts --key-id partner-1 --secret-file secret.txt \
//   --method POST --url http://127.0.0.1:8080/v1/chat/completions \
//   --header 'content-type: application/json' --data '{"model":"demo","messages":[]}'
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createSigner } from '../create-signer.js';
import type { CliOutput } from './cli-output.js';
import { quoteShellArgument } from './shell-quote.js';

const USAGE = `usage: sign-request --key-id <id> (--secret <base64> | --secret-file <path>) --url <absolute url>
  [--method GET] [--header 'name: value']... [--data <text> | --data-file <path>]
  [--components '@method,@path,@query,content-digest'] [--created <unix seconds>] [--nonce <text>]
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
  const secretText =
    values['secret-file'] === undefined
      ? required(values.secret, '--secret or --secret-file')
      : Buffer.from(dependencies.readFile(values['secret-file'])).toString('utf8').trim();
  const headers = Object.fromEntries((values.header ?? []).map(parseHeaderArgument));
  const body = readBody(values.data, values['data-file'], dependencies);
  if (values.created !== undefined && !/^\d{1,15}$/.test(values.created)) {
    throw new UsageError('--created must be Unix seconds');
  }
  const sign = createSigner({
    keyId,
    secret: Buffer.from(secretText, 'base64'),
    components: values.components?.split(',').map((component) => component.trim()),
    clock: { now: () => (values.created === undefined ? dependencies.nowMs : Number(values.created) * 1000) },
    ...(values.nonce === undefined ? {} : { createNonce: () => values.nonce ?? '' }),
  });
  const signed = sign({ method: values.method.toUpperCase(), url, headers, body });
  const words = ['curl', '-sS', '-X', values.method.toUpperCase(), quoteShellArgument(new URL(url).href)];
  for (const [name, value] of Object.entries(signed)) {
    words.push(`\\\n  -H ${quoteShellArgument(`${name}: ${value}`)}`);
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

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = runSignRequest(
    process.argv.slice(2),
    { stdout: process.stdout, stderr: process.stderr },
    { nowMs: Date.now(), readFile: (path) => readFileSync(path) },
  );
}
