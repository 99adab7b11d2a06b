import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ConfigDocuments } from '@api-router/policy';
import type { Logger } from 'pino';
import { configFileDirectories } from './config-file-directories.js';
import { hasNoContent } from './document-content.js';
import { ConfigSourceError, type ConfigSource, type ConfigSourceListener } from './config-source.js';

export interface FileConfigSourceOptions {
  /** router.yaml path (absolute, or relative to the working directory). */
  routerPath: string;
  /** policies.yaml path. */
  policiesPath: string;
  logger: Logger;
  /** Quiet time after the last file-system event before both files are re-read; default 100 ms. */
  debounceMs?: number;
  /**
   * First delay before both files are read again (and their directories watched anew) after a read failed,
   * doubled up to 30 s; default 1000 ms. A deleted or replaced directory sends no more events.
   */
  retryMs?: number;
}

const MAX_RETRY_MS = 30_000;

/**
 * Config documents in two YAML files. Watches the files' directories rather than the files, so editors that
 * save by writing a temp file and renaming it over the original (vim, most IDEs, Kubernetes ConfigMap
 * symlink swaps) are seen too, and also the directories of the symlinks on each path and of the file it
 * resolves to (an in-place edit of a linked file, or a swapped "current" link, is an event there only);
 * bursts of events are debounced and both files are always re-read together. A read whose content equals
 * the last delivered one is not delivered again; a file with no content (empty, or only comments) is
 * reported as missing rather than delivered (see hasNoContent). The directories are watched anew before
 * each read (a deleted or replaced directory's watcher goes silent), and a failed read or watch
 * is retried with backoff, so a directory that comes back, or that can be watched again, is seen too.
 */
export class FileConfigSource implements ConfigSource {
  readonly kind = 'file';
  readonly #options: FileConfigSourceOptions;
  readonly #watchers: FSWatcher[] = [];
  #listener: ConfigSourceListener | undefined;
  #timer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelayMs: number;
  #lastRevision: string | undefined;
  /** A directory could not be watched at the last attempt (edits may go unseen); retried with backoff. */
  #watchFailed = false;
  #reading: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: FileConfigSourceOptions) {
    this.#options = options;
    this.#retryDelayMs = options.retryMs ?? 1000;
  }

  start(listener: ConfigSourceListener): void {
    this.#listener = listener;
    this.#watchThenRead();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#retryTimer);
    for (const watcher of this.#watchers) watcher.close();
    await this.#reading;
  }

  /**
   * Watches anew, then reads: a change made before the new watcher exists is in the read that follows. A
   * directory that cannot be watched (gone, or the host's inotify limit reached: ENOSPC, EMFILE) is reported
   * after that read, so that readable files are delivered first (the control plane starts on them), and
   * watching is retried with backoff: until it works, edits would go unseen.
   */
  #watchThenRead(): void {
    const failure = this.#watch();
    if (failure === undefined && this.#watchFailed) {
      // Watching works again: deliver the documents anew, which clears the failure reported for it.
      this.#watchFailed = false;
      this.#lastRevision = undefined;
    }
    this.#read();
    if (failure === undefined) return;
    this.#watchFailed = true;
    this.#reading = this.#reading
      .then(() => {
        if (this.#closed) return;
        this.#retry();
        this.#listener?.onError(
          new ConfigSourceError(failure.kind, failure.directory, failure.message, { cause: failure.error }),
        );
      })
      .catch((error: unknown) => {
        this.#options.logger.error({ err: error }, 'config listener failed');
      });
  }

  /**
   * (Re)creates the directory watchers: a watcher of a directory that was deleted or replaced stays silent.
   * Returns the first directory that could not be watched, if any.
   */
  #watch():
    { kind: 'missing' | 'unreadable'; directory: string; message: string; error: unknown } | undefined {
    for (const watcher of this.#watchers.splice(0)) watcher.close();
    if (this.#closed) return undefined;
    let failure;
    for (const directory of new Set([
      ...configFileDirectories(this.#options.routerPath),
      ...configFileDirectories(this.#options.policiesPath),
    ])) {
      try {
        // Any event in the directory triggers a re-read, not only events naming our files: a Kubernetes
        // ConfigMap update swaps a "..data" symlink, and some platforms report no file name at all. Reading
        // two small files after a debounce is cheap, and unchanged content is not delivered.
        const watcher = watch(directory, { persistent: false }, () => this.#schedule());
        // Node closes a watcher that fails: watch anew (with backoff), or edits would go unseen.
        watcher.on('error', (error: unknown) => {
          if (this.#closed) return;
          this.#watchFailed = true;
          this.#retry();
          this.#fail('unreadable', directory, 'watching failed', error);
        });
        this.#watchers.push(watcher);
      } catch (error: unknown) {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
        failure ??= {
          kind: missing ? ('missing' as const) : ('unreadable' as const),
          directory,
          message: `cannot watch config directory ${directory}`,
          error,
        };
      }
    }
    return failure;
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    // Watching anew before reading: the event may have been the watched directory being replaced (its
    // watcher then stays silent).
    this.#timer = setTimeout(() => this.#watchThenRead(), this.#options.debounceMs ?? 100);
  }

  #read(): void {
    // Reads are chained so that two overlapping reads cannot deliver out of order.
    this.#reading = this.#reading
      .then(() => this.#readOnce())
      .catch((error: unknown) => {
        // Only a throwing listener gets here; logged so that the chain (and later reloads) keeps working.
        this.#options.logger.error({ err: error }, 'config listener failed');
      });
  }

  async #readOnce(): Promise<void> {
    if (this.#closed) return;
    const router = await this.#readDocument(this.#options.routerPath);
    const policies = await this.#readDocument(this.#options.policiesPath);
    if (this.#closed) return;
    if (router === undefined || policies === undefined) {
      this.#retry();
      return;
    }
    // The backoff restarts once everything works (a directory that cannot be watched keeps it growing).
    if (!this.#watchFailed) this.#retryDelayMs = this.#options.retryMs ?? 1000;
    const documents: ConfigDocuments = { router, policies };
    const revision = `file:${createHash('sha256').update(router.text).update('\0').update(policies.text).digest('hex').slice(0, 12)}`;
    if (revision === this.#lastRevision) return;
    this.#lastRevision = revision;
    this.#options.logger.debug({ revision }, 'config files read');
    this.#listener?.onDocuments(documents, revision);
  }

  /** Keeps trying after a failed read: the directories may have been replaced (or not exist yet). */
  #retry(): void {
    // One pending retry covers every failure of an attempt (a read and a watch may both fail).
    if (this.#retryTimer !== undefined) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#watchThenRead();
    }, this.#retryDelayMs);
    this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, MAX_RETRY_MS);
  }

  async #readDocument(path: string): Promise<{ source: string; text: string } | undefined> {
    try {
      const text = await readFile(path, 'utf8');
      if (!hasNoContent(text)) return { source: path, text };
      this.#fail('missing', path, 'config file has no content (write {} to configure nothing)', undefined);
      return undefined;
    } catch (error: unknown) {
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      this.#fail(
        missing ? 'missing' : 'unreadable',
        path,
        missing ? 'config file is missing' : 'cannot read config file',
        error,
      );
      return undefined;
    }
  }

  #fail(kind: 'missing' | 'unreadable', source: string, message: string, cause: unknown): void {
    if (this.#closed) return;
    // Forget the last content so that restoring the very same file is delivered again.
    this.#lastRevision = undefined;
    this.#listener?.onError(new ConfigSourceError(kind, source, `${message}: ${source}`, { cause }));
  }
}
