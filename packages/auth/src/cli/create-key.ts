// Creates an API key: prints the key once and the policies.yaml entry that stores only its hash.
// Usage: pnpm exec tsx packages/auth/src/cli/create-key.ts --tenant acme [--public-id rk_acme01] [--models 'gpt-4o-mini,*']
import { parseArgs } from 'node:util';
import { generateApiKey } from '../api-key.js';
import type { CliOutput } from './cli-output.js';
import { isMainModule } from './main-module.js';

const USAGE =
  'usage: create-key --tenant <tenant id> [--public-id rk_<4-32 a-z0-9>] [--models <model,model|*>]\n';

// The formats policies.yaml requires of an API key's `tenant` and `allowedModels` (ID_PATTERN and
// MODEL_PATTERN of packages/policy/src/config-patterns.ts, which this package does not depend on): an entry
// printed with anything else would be refused by the control plane after the key was shown.
const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const MODEL_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$/;

/** Runs the command; returns the exit code (0 ok, 2 usage error). */
export function runCreateKey(argv: readonly string[], output: CliOutput): number {
  let values: { tenant?: string; 'public-id'?: string; models?: string };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { tenant: { type: 'string' }, 'public-id': { type: 'string' }, models: { type: 'string' } },
      strict: true,
    }));
  } catch (error: unknown) {
    output.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  if (values.tenant === undefined || values.tenant === '') {
    output.stderr.write(USAGE);
    return 2;
  }
  if (!TENANT_ID_PATTERN.test(values.tenant)) {
    output.stderr.write(
      `--tenant must match ${String(TENANT_ID_PATTERN)}, got ${JSON.stringify(values.tenant)}\n${USAGE}`,
    );
    return 2;
  }
  const models = (values.models ?? '*')
    .split(',')
    .map((model) => model.trim())
    .filter((model) => model !== '');
  const badModel = models.find((model) => model !== '*' && !MODEL_PATTERN.test(model));
  if (models.length === 0 || badModel !== undefined) {
    output.stderr.write(
      `--models must list "*" or model names matching ${String(MODEL_PATTERN)}, got ${JSON.stringify(values.models)}\n${USAGE}`,
    );
    return 2;
  }
  let generated: ReturnType<typeof generateApiKey>;
  try {
    generated = generateApiKey(values['public-id']);
  } catch (error: unknown) {
    output.stderr.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  output.stdout.write(
    [
      `New API key for tenant ${values.tenant}. It is shown only this once and cannot be recovered:`,
      '',
      `  ${generated.key}`,
      '',
      'Add this entry under apiKeys: in policies.yaml (it holds only the SHA-256 of the key):',
      '',
      `  - publicId: ${generated.publicId}`,
      `    secretSha256: ${generated.secretSha256Hex}`,
      `    tenant: ${JSON.stringify(values.tenant)}`,
      `    allowedModels: [${models.map((model) => JSON.stringify(model)).join(', ')}]`,
      '',
    ].join('\n'),
  );
  return 0;
}

if (isMainModule(import.meta.url)) {
  process.exitCode = runCreateKey(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr });
}
