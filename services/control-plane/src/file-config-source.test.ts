import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@api-router/observability';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { recorder, type Outcome } from './config-source-recorder.test-support.js';
import { FileConfigSource } from './file-config-source.js';

describe('FileConfigSource', () => {
  let directory: string;
  let source: FileConfigSource | undefined;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'cp-files-'));
    await writeFile(join(directory, 'router.yaml'), 'routes: []\n');
    await writeFile(join(directory, 'policies.yaml'), 'tenants: []\n');
  });
  afterEach(async () => {
    await source?.close();
    await rm(directory, { recursive: true, force: true });
  });

  function start() {
    const listener = recorder();
    source = new FileConfigSource({
      routerPath: join(directory, 'router.yaml'),
      policiesPath: join(directory, 'policies.yaml'),
      logger: createLogger({ service: 'test', level: 'silent' }),
      debounceMs: 10,
    });
    source.start(listener);
    return listener;
  }

  it('delivers both documents with their paths and a content revision', async () => {
    const listener = start();
    const outcome = await listener.next();
    expect(outcome).toMatchObject({
      documents: {
        router: { source: join(directory, 'router.yaml'), text: 'routes: []\n' },
        policies: { source: join(directory, 'policies.yaml'), text: 'tenants: []\n' },
      },
      revision: expect.stringMatching(/^file:[0-9a-f]{12}$/),
    });
  });

  it('sees in-place writes and editor-style rename replacements', async () => {
    const listener = start();
    const first = await listener.next();
    await writeFile(join(directory, 'router.yaml'), 'routes: [] # edited\n');
    const edited = await listener.next();
    expect(edited).toMatchObject({ documents: { router: { text: 'routes: [] # edited\n' } } });
    expect('revision' in edited && 'revision' in first && edited.revision !== first.revision).toBe(true);

    await writeFile(join(directory, '.policies.yaml.swp'), 'tenants: [] # renamed\n');
    await rename(join(directory, '.policies.yaml.swp'), join(directory, 'policies.yaml'));
    expect(await listener.next()).toMatchObject({
      documents: { policies: { text: 'tenants: [] # renamed\n' } },
    });
  });

  it('reports a missing document clearly, then recovers when it is back', async () => {
    const listener = start();
    await listener.next();
    await unlink(join(directory, 'policies.yaml'));
    const outcome = await listener.next();
    expect(outcome).toMatchObject({ error: { kind: 'missing', source: join(directory, 'policies.yaml') } });
    expect('error' in outcome && outcome.error.message).toContain('policies.yaml');
    await writeFile(join(directory, 'policies.yaml'), 'tenants: []\n');
    expect(await listener.next()).toMatchObject({ documents: { policies: { text: 'tenants: []\n' } } });
  });

  it('refuses a document with no content (truncated, or a generator that failed) instead of delivering it', async () => {
    // An empty policies.yaml would be read as "no tenants, no keys": every key revoked on every data plane,
    // when what happened is `render > policies.yaml` failing, or a read between a truncation and the write.
    const listener = start();
    await listener.next();
    for (const blank of ['', '\n  \n', '# Tenants and API keys.\n---\n# (rendered by ci)\n']) {
      await writeFile(join(directory, 'policies.yaml'), blank);
      const outcome = await listener.next();
      expect(outcome).toMatchObject({ error: { kind: 'missing', source: join(directory, 'policies.yaml') } });
      expect('error' in outcome && outcome.error.message).toBe(
        `config file has no content (write {} to configure nothing): ${join(directory, 'policies.yaml')}`,
      );
    }
    await writeFile(join(directory, 'policies.yaml'), '{}\n');
    expect(await nextDocuments(listener)).toMatchObject({ documents: { policies: { text: '{}\n' } } });
  });

  it('keeps trying when the config directory is replaced, and watches the new one', async () => {
    const listener = start();
    await listener.next();
    const replacement = `${directory}.new`;
    await mkdir(replacement);
    await writeFile(join(replacement, 'router.yaml'), 'routes: [] # new\n');
    await writeFile(join(replacement, 'policies.yaml'), 'tenants: [] # new\n');
    await rm(directory, { recursive: true });
    await rename(replacement, directory);
    expect(await nextDocuments(listener)).toMatchObject({
      documents: { router: { text: 'routes: [] # new\n' }, policies: { text: 'tenants: [] # new\n' } },
    });
    await writeFile(join(directory, 'router.yaml'), 'routes: [] # edited\n');
    expect(await nextDocuments(listener)).toMatchObject({
      documents: { router: { text: 'routes: [] # edited\n' } },
    });
  });

  it('keeps trying while the config directory is gone, and reads it once it is back', async () => {
    const listener = start();
    await listener.next();
    await rm(directory, { recursive: true });
    expect(await listener.next()).toMatchObject({ error: { kind: 'missing' } });
    await mkdir(directory);
    await writeFile(join(directory, 'router.yaml'), 'routes: [] # back\n');
    await writeFile(join(directory, 'policies.yaml'), 'tenants: []\n');
    expect(await nextDocuments(listener)).toMatchObject({
      documents: { router: { text: 'routes: [] # back\n' } },
    });
    await writeFile(join(directory, 'router.yaml'), 'routes: [] # edited\n');
    expect(await nextDocuments(listener)).toMatchObject({
      documents: { router: { text: 'routes: [] # edited\n' } },
    });
  });
});

/** Skips source errors (documents missing while the directory is swapped) up to the next delivered documents. */
async function nextDocuments(listener: ReturnType<typeof recorder>): Promise<Outcome> {
  for (;;) {
    const outcome = await listener.next();
    if ('documents' in outcome) return outcome;
  }
}
