import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '@api-router/testing';
import { DEMO_API_KEY } from './support/inference-config.js';
import {
  printedDataPlane,
  startLauncher,
  stopLauncher,
  stopLaunchers,
  temporaryDirectory,
  waitRunning,
  type Launcher,
} from './support/local-launcher.js';

// A config the control plane rejects is only a warning in its log: it keeps serving the last good snapshot
// (persisted in the run directory), and the launcher showed the services' lines only with LOCAL_VERBOSE.
// The user saw "API router is running" and a router ignoring their edit. The launcher must show the
// rejection, with the file, line and reason, without LOCAL_VERBOSE, and nothing more than before otherwise.

const work = temporaryDirectory('start-config-');
const runDir = join(work, 'run');
const policies = join(work, 'policies.yaml');
/** The sample policies with a typo: `allowedModel` for `allowedModels`, line 21. */
const TYPO = '    allowedModel: [demo-chat]\n';

function writeTypo(): void {
  const sample = readFileSync(join(repoRoot(), 'configs/policies.sample.yaml'), 'utf8');
  const anchor = '    tenant: demo\n';
  expect(sample).toContain(anchor);
  writeFileSync(policies, sample.replace(anchor, `${anchor}${TYPO}`));
}

/** Stderr lines that name the typo: the rejection, then an indented `file:line path: reason`. */
function rejectionShown(launcher: Launcher): boolean {
  const lines = launcher.process.errorLines;
  const index = lines.findIndex((line) => line.startsWith('[control-plane] config rejected'));
  return (
    index >= 0 &&
    lines
      .slice(index + 1)
      .some((line) => line.includes(`${policies}:`) && line.includes('unknown field "allowedModel"'))
  );
}

function rejectionCount(launcher: Launcher): number {
  return launcher.process.errorLines.filter((line) => line.startsWith('[control-plane] config rejected'))
    .length;
}

afterAll(stopLaunchers);

describe('the local start command with a config the control plane rejects', () => {
  it('shows nothing of the services while the config is good, and the rejection of a live edit', async () => {
    copyFileSync(join(repoRoot(), 'configs/policies.sample.yaml'), policies);
    const launcher = await startLauncher(runDir, ['--policies-config', policies]);
    await waitRunning(launcher);
    const serviceLines = [...launcher.process.lines, ...launcher.process.errorLines].filter((line) =>
      /^\[(control-plane|data-plane|mock-[ab])\]/.test(line),
    );
    expect(serviceLines).toEqual([]);

    writeTypo();
    await launcher.process.waitForLine((line) => line.startsWith('[control-plane] config rejected'), {
      includeStderr: true,
      timeoutMs: 30_000,
    });
    await launcher.process.waitForLine((line) => line.includes('unknown field "allowedModel"'), {
      includeStderr: true,
      timeoutMs: 5_000,
    });
    expect(rejectionShown(launcher)).toBe(true);
    // Still serving the last good snapshot, as the message says.
    const models = await fetch(`${printedDataPlane(launcher)}/v1/models`, {
      headers: { authorization: `Bearer ${DEMO_API_KEY}` },
    });
    expect(models.status).toBe(200);
    await models.arrayBuffer();

    // The fix is shown too: otherwise the rejection would be the last word on the screen.
    copyFileSync(join(repoRoot(), 'configs/policies.sample.yaml'), policies);
    await launcher.process.waitForLine((line) => line.startsWith('[control-plane] config accepted again'), {
      includeStderr: true,
      timeoutMs: 30_000,
    });
    writeTypo(); // for the next case
    await launcher.process.waitForLine(
      (line) => line.startsWith('[control-plane] config rejected') && rejectionCount(launcher) === 2,
      { includeStderr: true, timeoutMs: 30_000 },
    );
    await stopLauncher(launcher);
  }, 150_000);

  it('starts with a persisted snapshot and a rejected config, and says so before and after "running"', async () => {
    // The previous case left its last good snapshot in runDir, and the typo in the file.
    const launcher = await startLauncher(runDir, ['--policies-config', policies]);
    await waitRunning(launcher);
    await launcher.process.waitForLine((line) => line.includes('The config was rejected'), {
      includeStderr: true,
      timeoutMs: 5_000,
    });
    expect(rejectionShown(launcher)).toBe(true);
    await stopLauncher(launcher);
  }, 150_000);

  it('fails to start with the reason when nothing was persisted', async () => {
    const launcher = await startLauncher(join(work, 'fresh-run'), ['--policies-config', policies]);
    const exit = await launcher.process.exited;
    expect(exit.code).toBe(1);
    expect(rejectionShown(launcher)).toBe(true);
    expect(launcher.process.errorLines).toContainEqual(
      expect.stringMatching(
        /^\[control-plane\] control plane failed to start: no valid config .*unknown field "allowedModel"/,
      ),
    );
    // The data plane, stopped because the control plane failed, is not blamed for it.
    expect(launcher.process.errorLines.join('\n')).not.toContain('data-plane exited');
  }, 150_000);
});
