import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@api-router/observability';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recorder, type Outcome } from './config-source-recorder.test-support.js';
import { FileConfigSource } from './file-config-source.js';

// Config paths that go through symlinks: a file linked from a checkout elsewhere, a "current" link to the
// latest release directory. An edit or a swap happens in the directory that holds the file or the link,
// which is not always the directory the config path names.
describe('FileConfigSource through symlinks', () => {
  let root: string;
  let source: FileConfigSource | undefined;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'cp-links-'));
  });
  afterEach(async () => {
    await source?.close();
    await rm(root, { recursive: true, force: true });
  });

  function start(routerPath: string, policiesPath: string) {
    const listener = recorder();
    source = new FileConfigSource({
      routerPath,
      policiesPath,
      logger: createLogger({ service: 'test', level: 'silent' }),
      debounceMs: 10,
    });
    source.start(listener);
    return listener;
  }

  it('sees in-place edits of a file that the config path links to in another directory', async () => {
    await mkdir(join(root, 'checkout'));
    await mkdir(join(root, 'etc'));
    await writeFile(join(root, 'checkout', 'router.yaml'), 'routes: []\n');
    await symlink(join(root, 'checkout', 'router.yaml'), join(root, 'etc', 'router.yaml'));
    await writeFile(join(root, 'etc', 'policies.yaml'), 'tenants: []\n');
    const listener = start(join(root, 'etc', 'router.yaml'), join(root, 'etc', 'policies.yaml'));
    expect(await listener.next()).toMatchObject({ documents: { router: { text: 'routes: []\n' } } });

    await writeFile(join(root, 'checkout', 'router.yaml'), 'routes: [] # edited in the checkout\n');
    expect(await nextDocuments(listener)).toMatchObject({
      documents: { router: { text: 'routes: [] # edited in the checkout\n' } },
    });
  });

  it('sees a swap of a directory symlink on the config path (a "current" release link)', async () => {
    for (const release of ['release-1', 'release-2']) {
      await mkdir(join(root, release));
      await writeFile(join(root, release, 'router.yaml'), `routes: [] # ${release}\n`);
      await writeFile(join(root, release, 'policies.yaml'), `tenants: [] # ${release}\n`);
    }
    await symlink(join(root, 'release-1'), join(root, 'current'));
    const listener = start(join(root, 'current', 'router.yaml'), join(root, 'current', 'policies.yaml'));
    expect(await listener.next()).toMatchObject({
      documents: { router: { text: 'routes: [] # release-1\n' } },
    });

    // Deploy tools swap the link atomically: a new link renamed over the old one.
    await symlink(join(root, 'release-2'), join(root, 'current.next'));
    await rename(join(root, 'current.next'), join(root, 'current'));
    expect(await nextDocuments(listener)).toMatchObject({
      documents: {
        router: { text: 'routes: [] # release-2\n' },
        policies: { text: 'tenants: [] # release-2\n' },
      },
    });
    // And edits in the new release are seen, not those of the old one.
    await writeFile(join(root, 'release-2', 'router.yaml'), 'routes: [] # release-2 edited\n');
    expect(await nextDocuments(listener)).toMatchObject({
      documents: { router: { text: 'routes: [] # release-2 edited\n' } },
    });
  });

  it('follows a Kubernetes ConfigMap update (a "..data" link swapped, the old directory removed)', async () => {
    const mount = join(root, 'config');
    await mkdir(mount);
    const writeVersion = async (name: string, comment: string): Promise<void> => {
      await mkdir(join(mount, name));
      await writeFile(join(mount, name, 'router.yaml'), `routes: [] # ${comment}\n`);
      await writeFile(join(mount, name, 'policies.yaml'), `tenants: [] # ${comment}\n`);
    };
    await writeVersion('..2026_01', 'first');
    await symlink('..2026_01', join(mount, '..data'));
    await symlink('..data/router.yaml', join(mount, 'router.yaml'));
    await symlink('..data/policies.yaml', join(mount, 'policies.yaml'));
    const listener = start(join(mount, 'router.yaml'), join(mount, 'policies.yaml'));
    expect(await listener.next()).toMatchObject({ documents: { router: { text: 'routes: [] # first\n' } } });

    await writeVersion('..2026_02', 'second');
    await symlink('..2026_02', join(mount, '..data_tmp'));
    await rename(join(mount, '..data_tmp'), join(mount, '..data'));
    await rm(join(mount, '..2026_01'), { recursive: true });
    const outcome = await listener.next();
    expect(outcome).toMatchObject({
      documents: { router: { text: 'routes: [] # second\n' }, policies: { text: 'tenants: [] # second\n' } },
    });
  });

  it('reports a symlink loop as an unreadable document instead of following it forever', async () => {
    await symlink(join(root, 'loop-b'), join(root, 'loop-a'));
    await symlink(join(root, 'loop-a'), join(root, 'loop-b'));
    await writeFile(join(root, 'policies.yaml'), 'tenants: []\n');
    const listener = start(join(root, 'loop-a'), join(root, 'policies.yaml'));
    expect(await listener.next()).toMatchObject({
      error: { kind: 'unreadable', source: join(root, 'loop-a') },
    });
  });
});

/** Skips source errors up to the next delivered documents. */
async function nextDocuments(listener: ReturnType<typeof recorder>): Promise<Outcome> {
  for (;;) {
    const outcome = await listener.next();
    if ('documents' in outcome) return outcome;
  }
}
