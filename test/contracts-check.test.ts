import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Proves that CI's contract gate (scripts/check-contracts.sh) really fails: a proto changed without
// regenerating, and a breaking change against the previous commit. Works on a throwaway clone of HEAD.
const root = resolve(import.meta.dirname, '..');
let clone: string;

function git(...args: string[]): string {
  return execFileSync('git', args, { cwd: clone, encoding: 'utf8' });
}

function runCheck(): { status: number | null; output: string } {
  const result = spawnSync('bash', ['scripts/check-contracts.sh'], { cwd: clone, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

beforeAll(() => {
  clone = join(mkdtempSync(join(tmpdir(), 'contracts-check-')), 'repo');
  execFileSync('git', ['clone', '--quiet', root, clone]);
  git('config', 'user.email', 'test@example.invalid');
  git('config', 'user.name', 'contracts test');
  symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'));
});

afterAll(() => {
  rmSync(resolve(clone, '..'), { recursive: true, force: true });
});

describe('contract gate', () => {
  it('passes on the committed contracts', () => {
    const result = runCheck();
    expect(result.output).toContain('generated code matches proto/');
    expect(result.status).toBe(0);
  });

  it('fails when a proto changes without regenerating the TypeScript', () => {
    const file = join(clone, 'proto/router/v1/inference.proto');
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace('bool stream = 8;', 'bool stream = 8;\n  string user = 9;'));
    try {
      const result = runCheck();
      expect(result.status).not.toBe(0);
      expect(result.output).toContain('generated code is out of date');
    } finally {
      writeFileSync(file, original);
      git('checkout', '--', 'packages/contracts');
    }
  });

  it('fails on a breaking change against the previous commit', () => {
    const file = join(clone, 'proto/router/v1/usage.proto');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/\n\s*bool truncated = 14;/, ''));
    execFileSync('pnpm', ['exec', 'buf', 'generate'], { cwd: clone });
    git('commit', '--quiet', '-am', 'remove a field (breaking)');
    const result = runCheck();
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/truncated|14/);
  });
});
