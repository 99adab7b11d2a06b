import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The data plane's Node flags live in its package.json (`apiRouter.nodeFlags`, read by scripts/start-local.mjs
// and bench/bench-data-plane.ts); `npm start` cannot read that field, so its command repeats them.
describe('data-plane node flags', () => {
  it('are the ones its start script runs with', () => {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      scripts: { start: string };
      apiRouter: { nodeFlags: string[] };
    };
    expect(manifest.apiRouter.nodeFlags.length).toBeGreaterThan(0);
    expect(manifest.scripts.start).toBe(`node ${manifest.apiRouter.nodeFlags.join(' ')} dist/main.js`);
  });
});
