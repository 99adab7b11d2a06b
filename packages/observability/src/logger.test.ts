import { spawn, type ChildProcess } from 'node:child_process';
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { isoTimeField } from './logger.js';

interface Child {
  process: ChildProcess;
  /** Resolves with the first complete stdout line. */
  firstLine: Promise<string>;
  /** Resolves with all of stdout once the process closed. */
  done: Promise<string>;
}

// The default destination is buffered stdout; these run a real child process so that the exit-time flush
// and the periodic flush are the real ones. The child imports this package's source through tsx.
function runChild(script: string): Child {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=source', '--input-type=module', '-e', script],
    { cwd: new URL('../../..', import.meta.url).pathname, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let stdout = '';
  let resolveFirst: (line: string) => void = () => undefined;
  const firstLine = new Promise<string>((resolve) => {
    resolveFirst = resolve;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.includes('\n')) resolveFirst(stdout.split('\n')[0]!);
  });
  const done = new Promise<string>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', () => resolve(stdout));
  });
  return { process: child, firstLine, done };
}

const IMPORT = "import { createLogger } from '@api-router/observability';";

// Child processes load tsx first: slow on a busy machine, hence the generous timeout.
describe('createLogger default destination (buffered stdout)', { timeout: 30_000 }, () => {
  it('writes every line before an explicit process.exit, redacted, as UTF-8', async () => {
    const stdout = await runChild(
      `${IMPORT} const log = createLogger({ service: 't' });
       for (let i = 0; i < 50; i++) log.info({ i, authorization: 'Bearer sk-secret', text: 'héllo ✓ 🙂' }, 'line');
       process.exit(0);`,
    ).done;
    const lines = stdout
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as { i: number; authorization: string; text: string });
    expect(lines.map((line) => line.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(lines[0]?.authorization).toBe('[redacted]');
    expect(lines.every((line) => line.text === 'héllo ✓ 🙂')).toBe(true);
    expect(stdout).not.toContain('sk-secret');
  });

  it('writes a lone line without waiting for more (periodic flush) while the process keeps running', async () => {
    // Stays alive (an interval) until the parent has read its line and stops it.
    const child = runChild(
      `${IMPORT} createLogger({ service: 't' }).info('alone'); setInterval(() => undefined, 1000);`,
    );
    try {
      const line = JSON.parse(await child.firstLine) as { msg: string; service: string };
      expect(line).toMatchObject({ msg: 'alone', service: 't' });
    } finally {
      child.process.kill('SIGKILL');
      await child.done;
    }
  });
});

describe('isoTimeField', () => {
  it("writes pino's isoTime field, and a new one when the millisecond changes", () => {
    const now = vi.spyOn(Date, 'now');
    try {
      for (const ms of [1_800_000_000_000, 1_800_000_000_000, 1_800_000_000_001, 1_700_000_000_123]) {
        now.mockReturnValue(ms);
        expect(isoTimeField()).toBe(pino.stdTimeFunctions.isoTime());
        expect(isoTimeField()).toBe(`,"time":"${new Date(ms).toISOString()}"`);
      }
    } finally {
      now.mockRestore();
    }
  });
});
