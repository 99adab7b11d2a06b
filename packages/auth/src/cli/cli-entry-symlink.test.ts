// The CLIs run when started by a path through a symlink (macOS's /tmp and /var, a linked home or checkout
// directory): Node loads the module by its real path, so comparing import.meta.url with argv[1] as given
// took the command for an import, and it printed nothing and exited 0.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const cliDirectory = dirname(fileURLToPath(import.meta.url));
const parent = mkdtempSync(join(tmpdir(), 'auth-cli-link-'));
const linkedCli = join(parent, 'cli');
symlinkSync(cliDirectory, linkedCli);

afterAll(() => {
  // The link only (rmSync does not follow it), then the empty directory.
  rmSync(linkedCli);
  rmSync(parent, { recursive: true });
});

/** Runs a CLI's TypeScript source with tsx, by its path through the symlink. */
async function runLinked(file: string, args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', join(linkedCli, file), ...args],
    {
      cwd: cliDirectory, // where `tsx` resolves
    },
  );
  return stdout;
}

describe('the auth CLIs started through a symlinked path', () => {
  it('create-key prints a key', async () => {
    await expect(runLinked('create-key.ts', ['--tenant', 'acme'])).resolves.toContain(
      'New API key for tenant acme',
    );
  });

  it('sign-request prints a curl command', async () => {
    const secret = Buffer.alloc(32, 7).toString('base64');
    const printed = await runLinked('sign-request.ts', [
      '--key-id',
      'rk_demo01',
      '--secret',
      secret,
      '--url',
      'http://127.0.0.1:8080/v1/models',
    ]);
    expect(printed).toMatch(/^curl -sS --globoff -X GET /);
  });
});
