import * as fs from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@api-router/observability';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { recorder } from './config-source-recorder.test-support.js';
import { FileConfigSource } from './file-config-source.js';

// fs.watch fails for reasons that leave the files readable: the host's inotify limits (ENOSPC "System limit
// for number of file watchers reached", EMFILE). Only this lets a test make it fail while running as root.
vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof fs>();
  return { ...actual, watch: vi.fn(actual.watch) };
});

function watchLimitReached(): never {
  throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), {
    code: 'ENOSPC',
  });
}

describe('FileConfigSource when the config directory cannot be watched', () => {
  let directory: string;
  let source: FileConfigSource | undefined;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'cp-watch-'));
    await writeFile(join(directory, 'router.yaml'), 'routes: []\n');
    await writeFile(join(directory, 'policies.yaml'), 'tenants: []\n');
  });
  afterEach(async () => {
    await source?.close();
    await rm(directory, { recursive: true, force: true });
    vi.mocked(fs.watch).mockReset();
  });

  it('delivers the readable files first, then reports the failure, and sees edits once watching works', async () => {
    vi.mocked(fs.watch).mockImplementationOnce(watchLimitReached);
    const listener = recorder();
    source = new FileConfigSource({
      routerPath: join(directory, 'router.yaml'),
      policiesPath: join(directory, 'policies.yaml'),
      logger: createLogger({ service: 'test', level: 'silent' }),
      debounceMs: 10,
      retryMs: 10,
    });
    source.start(listener);

    // The control plane's start waits for the first outcome: documents, so that it can start on them.
    expect(await listener.next()).toMatchObject({ documents: { router: { text: 'routes: []\n' } } });
    const failure = await listener.next();
    expect(failure).toMatchObject({ error: { kind: 'unreadable', source: directory } });
    expect('error' in failure && failure.error.message).toContain('cannot watch config directory');
    // Watching again works: the same documents again (they clear the reported failure), then edits.
    expect(await listener.next()).toMatchObject({ documents: { router: { text: 'routes: []\n' } } });
    await writeFile(join(directory, 'router.yaml'), 'routes: [] # edited\n');
    expect(await listener.next()).toMatchObject({
      documents: { router: { text: 'routes: [] # edited\n' } },
    });
  });

  // A watcher can also fail after it was made (an 'error' event, then it is closed): the same silence.
  it('watches anew after a watcher fails, and sees edits again', async () => {
    const actual = await vi.importActual<typeof fs>('node:fs');
    vi.mocked(fs.watch).mockImplementationOnce((...args: Parameters<typeof fs.watch>) => {
      const watcher = actual.watch(...args);
      setImmediate(() => {
        // As Node does when the handle fails: closed, then the error.
        watcher.close();
        watcher.emit('error', new Error('EIO: watching failed'));
      });
      return watcher;
    });
    const listener = recorder();
    source = new FileConfigSource({
      routerPath: join(directory, 'router.yaml'),
      policiesPath: join(directory, 'policies.yaml'),
      logger: createLogger({ service: 'test', level: 'silent' }),
      debounceMs: 10,
      retryMs: 10,
    });
    source.start(listener);
    const outcomes = [await listener.next(), await listener.next()];
    expect(outcomes).toContainEqual(expect.objectContaining({ documents: expect.anything() }));
    expect(outcomes).toContainEqual({ error: expect.objectContaining({ kind: 'unreadable' }) });
    expect(await listener.next()).toMatchObject({ documents: { router: { text: 'routes: []\n' } } });
    await writeFile(join(directory, 'router.yaml'), 'routes: [] # edited\n');
    expect(await listener.next()).toMatchObject({
      documents: { router: { text: 'routes: [] # edited\n' } },
    });
  });
});
