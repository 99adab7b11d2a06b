import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseApiKey } from '../api-key.js';
import { runCreateKey } from './create-key.js';

function capture() {
  const output = { stdout: '', stderr: '' };
  return {
    output,
    sinks: {
      stdout: { write: (text: string) => (output.stdout += text) },
      stderr: { write: (text: string) => (output.stderr += text) },
    },
  };
}

describe('create-key CLI', () => {
  it('prints the key once and a policies.yaml entry holding only its hash', () => {
    const { output, sinks } = capture();
    expect(
      runCreateKey(['--tenant', 'acme', '--public-id', 'rk_acme01', '--models', 'gpt-4o-mini, demo'], sinks),
    ).toBe(0);
    const key = /^ {2}(rk_acme01\.\S+)$/m.exec(output.stdout)?.[1];
    expect(parseApiKey(key)).toBe('rk_acme01');
    expect(output.stdout.split(key!).length).toBe(2);
    const hash = createHash('sha256').update(key!).digest('hex');
    expect(output.stdout).toContain(
      [
        '  - publicId: rk_acme01',
        `    secretSha256: ${hash}`,
        '    tenant: "acme"',
        '    allowedModels: ["gpt-4o-mini", "demo"]',
      ].join('\n'),
    );
    expect(output.stderr).toBe('');
  });

  it('allows every model by default', () => {
    const { output, sinks } = capture();
    runCreateKey(['--tenant', 'acme'], sinks);
    expect(output.stdout).toContain('allowedModels: ["*"]');
    expect(output.stdout).toMatch(/publicId: rk_[a-z0-9]{12}\n/);
  });

  it.each([
    [[]],
    [['--tenant']],
    [['--tenant', 'acme', '--public-id', 'bad']],
    [['--tenant', 'acme', '--bogus']],
    // policies.yaml refuses these: the printed entry would never load, after the key was shown once.
    [['--tenant', 'Acme']],
    [['--tenant', 'acme corp']],
    [['--tenant', 'acme', '--models', '']],
    [['--tenant', 'acme', '--models', ' , ']],
    [['--tenant', 'acme', '--models', 'gpt-4o, my model']],
  ])('exits 2 with usage for %j', (argv) => {
    const { output, sinks } = capture();
    expect(runCreateKey(argv, sinks)).toBe(2);
    expect(output.stderr).toContain('usage: create-key');
    expect(output.stdout).toBe('');
  });
});
