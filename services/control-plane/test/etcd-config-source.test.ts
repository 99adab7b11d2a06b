import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@api-router/observability';
import type { ConfigDocuments } from '@api-router/policy';
import {
  ETCD,
  etcdMemberArgs,
  freePort,
  probeEtcd,
  spawnProcess,
  testServices,
  type SpawnedProcess,
} from '@api-router/testing';
import { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { recorder, type Outcome } from '../src/config-source-recorder.test-support.js';
import { EtcdConfigSource } from '../src/etcd-config-source.js';
import { startControlPlane, type ControlPlane, type ControlPlaneConfig } from '../src/index.js';
import { POLICIES_YAML, routerYaml } from './config-yaml.js';
import { GrpcPolicyClient } from './grpc-policy-client.js';

const logger = createLogger({ service: 'control-plane-test', level: 'warn', destination: process.stderr });

function etcdConfig(endpoints: string, prefix: string): ControlPlaneConfig {
  return {
    host: '127.0.0.1',
    grpcPort: 0,
    httpPort: 0,
    configSource: { kind: 'etcd', endpoints: endpoints.split(','), prefix },
    stateDir: join(tmpdir(), `cp-etcd-state-${randomUUID()}`),
    drainDelayMs: 0,
    policyHeartbeatMs: 30_000,
    databaseUrl: undefined,
    logLevel: 'silent',
    otlpTracesEndpoint: undefined,
  };
}

describe('etcd config source against a real etcd', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('publishes the documents under the prefix and a newer snapshot after a put', async () => {
    const endpoints = testServices().ETCD_ENDPOINTS;
    const prefix = `/cp-it-${randomUUID()}/`;
    const etcd = new Etcd3({ hosts: endpoints.split(',') });
    cleanups.push(() => etcd.close());
    await etcd.put(`${prefix}router.yaml`).value(routerYaml());
    await etcd.put(`${prefix}policies.yaml`).value(POLICIES_YAML);

    const config = etcdConfig(endpoints, prefix);
    const controlPlane: ControlPlane = await startControlPlane(config, { logger });
    cleanups.push(() => rm(config.stateDir, { recursive: true, force: true }));
    cleanups.push(() => controlPlane[Symbol.asyncDispose]());
    const client = new GrpcPolicyClient(controlPlane.grpcUrl);
    cleanups.push(() => client.close());
    client.watch({ dataPlane: { id: 'dp-etcd' } });

    const first = (await client.next()).snapshot!;
    expect(first.sourceRevision).toMatch(new RegExp(`^etcd:${prefix}@\\d+$`));
    await etcd.put(`${prefix}router.yaml`).value(routerYaml({ weight: 7 }));
    const second = (await client.next()).snapshot!;
    expect(second.version).toBeGreaterThan(first.version);
    expect(second.routes[0]?.targets[0]?.weight).toBe(7);
  });

  it('refuses to start without a snapshot when a document key is missing, naming the key', async () => {
    const endpoints = testServices().ETCD_ENDPOINTS;
    const prefix = `/cp-it-${randomUUID()}/`;
    const etcd = new Etcd3({ hosts: endpoints.split(',') });
    cleanups.push(() => etcd.close());
    await etcd.put(`${prefix}router.yaml`).value(routerYaml());
    const config = etcdConfig(endpoints, prefix);
    cleanups.push(() => rm(config.stateDir, { recursive: true, force: true }));
    await expect(startControlPlane(config, { logger })).rejects.toThrow(
      `etcd key ${prefix}policies.yaml is missing`,
    );
  });

  it('refuses a key with no content instead of delivering it as an empty config', async () => {
    // `etcdctl put <prefix>policies.yaml "$(cat policies.yaml)"` with a mistyped path puts an empty value:
    // read as "no tenants, no keys", it would revoke every key on every data plane.
    const endpoints = testServices().ETCD_ENDPOINTS;
    const prefix = `/cp-it-${randomUUID()}/`;
    const etcd = new Etcd3({ hosts: endpoints.split(',') });
    cleanups.push(() => etcd.close());
    await etcd.put(`${prefix}router.yaml`).value(routerYaml());
    await etcd.put(`${prefix}policies.yaml`).value(POLICIES_YAML);
    const source = new EtcdConfigSource({ client: etcd, prefix, logger });
    cleanups.push(() => source.close());
    const listener = recorder();
    source.start(listener);
    expect(await listener.next()).toMatchObject({ documents: { policies: { text: POLICIES_YAML } } });
    await vi.waitFor(() => expect(source.state()).toBe('watching'), { timeout: 10_000 });

    for (const blank of ['', '# policies\n']) {
      await etcd.put(`${prefix}policies.yaml`).value(blank);
      expect(await listener.next()).toMatchObject({
        error: {
          kind: 'missing',
          source: `${prefix}policies.yaml`,
          message: `etcd key ${prefix}policies.yaml has no content (put {} to configure nothing)`,
        },
      });
    }
    await etcd.put(`${prefix}policies.yaml`).value(POLICIES_YAML);
    expect(await listener.next()).toMatchObject({ documents: { policies: { text: POLICIES_YAML } } });
  });

  it('resumes its watch from the last seen revision after etcd restarts, missing no change', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'cp-etcd-restart-'));
    cleanups.push(() => rm(directory, { recursive: true, force: true }));
    const clientPort = await freePort();
    const peerPort = await freePort();
    const url = `http://127.0.0.1:${clientPort}`;
    let etcdProcess = await startOwnEtcd(directory, clientPort, peerPort);
    cleanups.push(() => etcdProcess.stop().then(() => undefined));

    const prefix = '/api-router/config/';
    const writer = new Etcd3({ hosts: [url] });
    await writer.put(`${prefix}router.yaml`).value(routerYaml());
    await writer.put(`${prefix}policies.yaml`).value(POLICIES_YAML);
    writer.close();

    const client = new Etcd3({ hosts: [url] });
    cleanups.push(() => client.close());
    const source = new EtcdConfigSource({
      client,
      prefix,
      logger,
      initialBackoffMs: 100,
      maxBackoffMs: 1_000,
    });
    cleanups.push(() => source.close());
    const listener = recorder();
    source.start(listener);
    const first = await listener.next();
    expect(first).toMatchObject({ documents: { router: { source: `${prefix}router.yaml` } } });
    await vi.waitFor(() => expect(source.state()).toBe('watching'), { timeout: 10_000 });
    const seenRevision = source.lastRevision();

    await etcdProcess.stop();
    await vi.waitFor(() => expect(source.state()).toBe('backoff'), { timeout: 20_000 });
    etcdProcess = await startOwnEtcd(directory, clientPort, peerPort);

    const secondWriter = new Etcd3({ hosts: [url] });
    await secondWriter.put(`${prefix}router.yaml`).value(routerYaml({ weight: 42 }));
    secondWriter.close();

    const outcome = await nextDocuments(listener);
    expect(outcome.documents.router.text).toContain('weight: 42');
    expect(outcome.revision).toMatch(new RegExp(`^etcd:${prefix}@\\d+$`));
    expect(source.lastRevision()).toBeGreaterThan(seenRevision);
  });
});

/** Skips source errors (etcd unreachable while restarting) up to the next delivered documents. */
async function nextDocuments(listener: {
  next(): Promise<Outcome>;
}): Promise<{ documents: ConfigDocuments; revision: string }> {
  for (;;) {
    const outcome = await listener.next();
    if ('documents' in outcome) return outcome;
  }
}

/** etcd on fixed ports and a data dir that survives restarts (the shared test etcd cannot be restarted). */
async function startOwnEtcd(
  directory: string,
  clientPort: number,
  peerPort: number,
): Promise<SpawnedProcess> {
  const url = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const etcd = await spawnProcess({
    command: ETCD,
    args: etcdMemberArgs({
      name: 'restart-test',
      dataDir: join(directory, 'data'),
      url,
      peerUrl,
      logFile: join(directory, 'etcd.log'),
    }),
    cwd: directory,
  });
  try {
    await vi.waitFor(() => probeEtcd(url), { timeout: 30_000, interval: 200 });
  } catch (error: unknown) {
    await etcd.stop();
    throw error;
  }
  return etcd;
}
