import { describe, expect, it } from 'vitest';
import { isPidAlive, spawnProcess } from '../src/index.js';

// A child that logs JSON lines like a service, then waits for a signal.
const SCRIPT = `
  console.log(JSON.stringify({ level: 30, msg: 'starting' }));
  console.error('a stderr line');
  setTimeout(() => console.log(JSON.stringify({ level: 30, msg: 'listening', port: 1234 })), 50);
  process.on('SIGTERM', () => { console.log(JSON.stringify({ msg: 'bye' })); process.exit(0); });
  setInterval(() => undefined, 1000);
`;

describe('spawnProcess', () => {
  it('captures JSON log lines, waits for one, and stops the process by pid', async () => {
    const child = await spawnProcess({ command: process.execPath, args: ['-e', SCRIPT] });
    try {
      const line = await child.waitForLine((_line, json) => json?.msg === 'listening', { timeoutMs: 10_000 });
      expect(JSON.parse(line)).toMatchObject({ port: 1234 });
      expect(child.jsonLines().map((entry) => entry.msg)).toEqual(['starting', 'listening']);
      await child.waitForLine((text) => text === 'a stderr line', { includeStderr: true, timeoutMs: 10_000 });
      expect(await isPidAlive(child.pid)).toBe(true);
    } finally {
      const exit = await child.stop();
      expect(exit).toEqual({ code: 0, signal: null });
    }
    expect(await isPidAlive(child.pid)).toBe(false);
    expect(child.jsonLines().at(-1)).toEqual({ msg: 'bye' });
  });

  it('rejects a wait when the process exits first, with its output in the message', async () => {
    const child = await spawnProcess({ command: process.execPath, args: ['-e', 'console.log("only line")'] });
    await expect(child.waitForLine((line) => line === 'never', { timeoutMs: 10_000 })).rejects.toThrow(
      /exited \(0\) before a matching line[\s\S]*only line/,
    );
    await child.stop();
  });
});
