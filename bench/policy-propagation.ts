// Benchmark (prints figures, asserts nothing): how long a config change takes to become the active policy
// of a data plane, through the real control plane and data plane processes, for the file source and for
// etcd. Time runs from the write (file write / etcd put) to the data plane's "policy applied" log line
// (the line carries pino's time; the data plane logs it right after the atomic swap).
//
//   pnpm exec tsx bench/policy-propagation.ts [changes=50]
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { startEtcd, type SpawnedProcess } from '@api-router/testing';
import {
  createPlaneWorkspace,
  removePlaneWorkspace,
  eventually,
  readiness,
  startControlPlaneProcess,
  startDataPlaneProcess,
  type PlaneWorkspace,
} from '../test/support/planes.js';

const changes = Number(process.argv[2] ?? 50);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Applies `changes` edits one after another; each waits for the data plane to apply a newer version. */
async function measure(dataPlane: SpawnedProcess, write: (i: number) => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < changes; i += 1) {
    const seen = dataPlane.lines.length;
    const started = Date.now();
    await write(i);
    const line = await dataPlane.waitForLine(
      (text, json) => json?.msg === 'policy applied' && dataPlane.lines.indexOf(text) >= seen,
      { timeoutMs: 20_000 },
    );
    samples.push(Date.parse((JSON.parse(line) as { time: string }).time) - started);
  }
  return samples.sort((a, b) => a - b);
}

function report(name: string, samples: number[]): void {
  process.stdout.write(
    `${name.padEnd(6)} changes=${samples.length} p50=${percentile(samples, 50)} ms p99=${percentile(samples, 99)} ms max=${samples.at(-1)} ms\n`,
  );
}

async function withPlanes(
  workspace: PlaneWorkspace,
  cpEnv: Record<string, string>,
  run: (dataPlane: SpawnedProcess) => Promise<void>,
): Promise<void> {
  const controlPlane = await startControlPlaneProcess(workspace, cpEnv);
  const dataPlane = await startDataPlaneProcess(workspace);
  try {
    await eventually(
      async () => ((await readiness(dataPlane.url)).status === 200 ? true : undefined),
      30_000,
    );
    await run(dataPlane.process);
  } finally {
    await dataPlane.process.stop();
    await controlPlane.process.stop();
    await removePlaneWorkspace(workspace);
  }
}

async function main(): Promise<void> {
  const fileWorkspace = await createPlaneWorkspace();
  const policiesText = readFileSync(fileWorkspace.policiesConfig, 'utf8');
  await withPlanes(fileWorkspace, {}, async (dataPlane) => {
    report(
      'file',
      await measure(dataPlane, (i) => {
        writeFileSync(fileWorkspace.policiesConfig, policiesText.replace('Demo tenant', `Demo tenant ${i}`));
        return Promise.resolve();
      }),
    );
  });

  const etcdRunDir = mkdtempSync(join(tmpdir(), 'bench-etcd-'));
  const etcd = await startEtcd({ runDir: etcdRunDir });
  const client = new Etcd3({ hosts: etcd.url });
  try {
    const prefix = '/bench/config/';
    const etcdWorkspace = await createPlaneWorkspace();
    await client.put(`${prefix}router.yaml`).value(readFileSync(etcdWorkspace.routerConfig, 'utf8'));
    await client.put(`${prefix}policies.yaml`).value(policiesText);
    await withPlanes(
      etcdWorkspace,
      { CP_CONFIG_SOURCE: 'etcd', CP_ETCD_ENDPOINTS: etcd.url, CP_ETCD_PREFIX: prefix },
      async (dataPlane) => {
        report(
          'etcd',
          await measure(dataPlane, async (i) => {
            await client
              .put(`${prefix}policies.yaml`)
              .value(policiesText.replace('Demo tenant', `Demo tenant ${i}`));
          }),
        );
      },
    );
  } finally {
    client.close();
    await etcd.stop();
    await rm(etcdRunDir, { recursive: true, force: true });
  }
}

await main();
