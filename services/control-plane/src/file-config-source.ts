import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ConfigDocuments } from '@api-router/policy';
import type { Logger } from 'pino';
import { ConfigSourceError, type ConfigSource, type ConfigSourceListener } from './config-source.js';

export interface FileConfigSourceOptions {
  /** router.yaml path (absolute, or relative to the working directory). */
  routerPath: string;
  /** policies.yaml path. */
  policiesPath: string;
  logger: Logger;
  /** Quiet time after the last file-system event before both files are re-read; default 100 ms. */
  debounceMs?: number;
}

/**
 * Config documents in two YAML files. Watches the files' directories rather than the files, so editors that
 * save by writing a temp file and renaming it over the original (vim, most IDEs, Kubernetes ConfigMap
 * symlink swaps) are seen too; bursts of events are debounced and both files are always re-read together.
 * A read whose content equals the last delivered one is not delivered again.
 */
export class FileConfigSource implements ConfigSource {
  readonly kind = 'file';
  readonly #options: FileConfigSourceOptions;
  readonly #watchers: FSWatcher[] = [];
  #listener: ConfigSourceListener | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastRevision: string | undefined;
  #reading: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(options: FileConfigSourceOptions) {
    this.#options = options;
  }

  start(listener: ConfigSourceListener): void {
    this.#listener = listener;
    for (const directory of new Set([
      dirname(this.#options.routerPath),
      dirname(this.#options.policiesPath),
    ])) {
      try {
        // Any event in the directory triggers a re-read, not only events naming our files: a Kubernetes
        // ConfigMap update swaps a "..data" symlink, and some platforms report no file name at all. Reading
        // two small files after a debounce is cheap, and unchanged content is not delivered.
        const watcher = watch(directory, { persistent: false }, () => this.#schedule());
        watcher.on('error', (error: unknown) =>
          this.#fail('unreadable', directory, 'watching failed', error),
        );
        this.#watchers.push(watcher);
      } catch (error: unknown) {
        this.#fail('missing', directory, `cannot watch config directory ${directory}`, error);
      }
    }
    this.#read();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers) watcher.close();
    await this.#reading;
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#read(), this.#options.debounceMs ?? 100);
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
    if (this.#closed || router === undefined || policies === undefined) return;
    const documents: ConfigDocuments = { router, policies };
    const revision = `file:${createHash('sha256').update(router.text).update('\0').update(policies.text).digest('hex').slice(0, 12)}`;
    if (revision === this.#lastRevision) return;
    this.#lastRevision = revision;
    this.#options.logger.debug({ revision }, 'config files read');
    this.#listener?.onDocuments(documents, revision);
  }

  async #readDocument(path: string): Promise<{ source: string; text: string } | undefined> {
    try {
      return { source: path, text: await readFile(path, 'utf8') };
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
