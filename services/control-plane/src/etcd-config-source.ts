import { setTimeout as delay } from 'node:timers/promises';
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { hasNoContent } from './document-content.js';
import { ConfigSourceError, type ConfigSource, type ConfigSourceListener } from './config-source.js';

export interface EtcdConfigSourceOptions {
  /** The etcd client; owned (and closed) by the caller. */
  client: Etcd3;
  /** Key prefix ending in "/"; the documents are `<prefix>router.yaml` and `<prefix>policies.yaml`. */
  prefix: string;
  logger: Logger;
  /** First retry delay after a failure, doubled up to `maxBackoffMs`; default 250 ms. */
  initialBackoffMs?: number;
  /** Default 10 000 ms. */
  maxBackoffMs?: number;
}

/**
 * idle → loading (range read) → watching ⇄ backoff → closed. A failed load retries the load; a lost watch
 * retries the watch from the last seen revision; a watch etcd cancels (e.g. its start revision was
 * compacted away) falls back to a fresh load.
 */
export type EtcdConfigSourceState = 'idle' | 'loading' | 'watching' | 'backoff' | 'closed';

const CANCEL_TIMEOUT_MS = 1000;
const DOCUMENT_NAMES = ['router.yaml', 'policies.yaml'] as const;

/**
 * Config documents in etcd under a prefix. Reads the prefix once, then watches it from the read's revision
 * + 1. The resume point is the mod revision of the last event this source processed — not what the etcd3
 * library tracks, which jumps to the server's current revision as soon as a watch is re-created and can skip
 * events replayed after that — so a reconnect (etcd restart, network loss) misses no change.
 */
export class EtcdConfigSource implements ConfigSource {
  readonly kind = 'etcd';
  readonly #options: EtcdConfigSourceOptions;
  readonly #documents = new Map<string, IKeyValue>();
  #listener: ConfigSourceListener | undefined;
  #state: EtcdConfigSourceState = 'idle';
  #watcher: Watcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastRevision = 0n;
  #backoffMs: number;

  constructor(options: EtcdConfigSourceOptions) {
    this.#options = options;
    this.#backoffMs = options.initialBackoffMs ?? 250;
  }

  /** Current state (see `EtcdConfigSourceState`). */
  state(): EtcdConfigSourceState {
    return this.#state;
  }

  /** Last etcd revision whose changes have been processed. */
  lastRevision(): bigint {
    return this.#lastRevision;
  }

  start(listener: ConfigSourceListener): void {
    this.#listener = listener;
    void this.#load();
  }

  async close(): Promise<void> {
    this.#state = 'closed';
    clearTimeout(this.#timer);
    await this.#dropWatcher();
  }

  async #load(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'loading';
    try {
      const response = await this.#options.client.getAll().prefix(this.#options.prefix).exec();
      if (this.#state !== 'loading') return;
      this.#documents.clear();
      for (const kv of response.kvs) this.#documents.set(kv.key.toString('utf8'), kv);
      this.#lastRevision = BigInt(response.header.revision);
      this.#emit();
      this.#watch();
    } catch (error: unknown) {
      if (this.#state !== 'loading') return;
      this.#listener?.onError(
        new ConfigSourceError(
          'unavailable',
          this.#options.prefix,
          `cannot read etcd prefix ${this.#options.prefix}`,
          {
            cause: error,
          },
        ),
      );
      this.#retry(() => this.#load());
    }
  }

  #watch(): void {
    if (this.#state === 'closed') return;
    const fromRevision = this.#lastRevision + 1n;
    const watcher = this.#options.client
      .watch()
      .prefix(this.#options.prefix)
      .startRevision(fromRevision.toString())
      .watcher();
    this.#watcher = watcher;
    watcher.on('connected', () => {
      this.#state = 'watching';
      this.#backoffMs = this.#options.initialBackoffMs ?? 250;
      this.#options.logger.info(
        { prefix: this.#options.prefix, fromRevision: fromRevision.toString() },
        'etcd watch connected',
      );
    });
    watcher.on('data', (response: IWatchResponse) => this.#onWatchResponse(response));
    watcher.on('disconnected', (error: unknown) => {
      this.#options.logger.warn(
        { err: error, lastRevision: this.#lastRevision.toString() },
        'etcd watch lost; resuming',
      );
      void this.#dropWatcher();
      this.#retry(() => this.#watch());
    });
    watcher.on('error', (error: unknown) => {
      // etcd cancelled the watch, typically because the resume revision was compacted: read everything anew.
      this.#options.logger.warn({ err: error }, 'etcd watch cancelled; reloading the prefix');
      void this.#dropWatcher();
      this.#retry(() => this.#load());
    });
  }

  #onWatchResponse(response: IWatchResponse): void {
    // Progress notifications carry no events and move nothing: resuming from an older revision only replays
    // events of other keys under the prefix, which are ignored.
    if (response.events.length === 0 || this.#state === 'closed') return;
    let relevant = false;
    for (const event of response.events) {
      const key = event.kv.key.toString('utf8');
      const revision = BigInt(event.kv.mod_revision);
      if (revision > this.#lastRevision) this.#lastRevision = revision;
      if (!this.#isDocumentKey(key)) continue;
      relevant = true;
      if (event.type === 'Delete') this.#documents.delete(key);
      else this.#documents.set(key, event.kv);
    }
    if (relevant) this.#emit();
  }

  #emit(): void {
    const [routerKey, policiesKey] = DOCUMENT_NAMES.map((name) => `${this.#options.prefix}${name}`) as [
      string,
      string,
    ];
    const router = this.#documents.get(routerKey);
    const policies = this.#documents.get(policiesKey);
    const missing = router === undefined ? routerKey : policies === undefined ? policiesKey : undefined;
    if (router === undefined || policies === undefined) {
      this.#listener?.onError(
        new ConfigSourceError('missing', missing ?? '', `etcd key ${missing} is missing`),
      );
      return;
    }
    // An empty value (`etcdctl put <key> "$(cat mistyped-path)"`) would be read as an empty config.
    const blank = [router, policies].find((kv) => hasNoContent(kv.value.toString('utf8')));
    if (blank !== undefined) {
      const key = blank.key.toString('utf8');
      this.#listener?.onError(
        new ConfigSourceError('missing', key, `etcd key ${key} has no content (put {} to configure nothing)`),
      );
      return;
    }
    const modRevision = [router, policies]
      .map((kv) => BigInt(kv.mod_revision))
      .reduce((a, b) => (a > b ? a : b));
    this.#listener?.onDocuments(
      {
        router: { source: routerKey, text: router.value.toString('utf8') },
        policies: { source: policiesKey, text: policies.value.toString('utf8') },
      },
      `etcd:${this.#options.prefix}@${modRevision}`,
    );
  }

  #isDocumentKey(key: string): boolean {
    return DOCUMENT_NAMES.some((name) => key === `${this.#options.prefix}${name}`);
  }

  #retry(action: () => unknown): void {
    if (this.#state === 'closed') return;
    this.#state = 'backoff';
    clearTimeout(this.#timer);
    this.#timer = setTimeout(action, this.#backoffMs);
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#options.maxBackoffMs ?? 10_000);
  }

  async #dropWatcher(): Promise<void> {
    const watcher = this.#watcher;
    this.#watcher = undefined;
    if (watcher === undefined) return;
    watcher.removeAllListeners();
    // A dropped watcher may still get an 'error' from its last stream; keep it from crashing the process.
    watcher.on('error', () => undefined);
    try {
      // Bounded: a cancel waits for etcd's answer, which a half-dead connection may never send.
      await Promise.race([watcher.cancel(), delay(CANCEL_TIMEOUT_MS, undefined, { ref: false })]);
    } catch (error: unknown) {
      // Cancelling a watch on a broken stream fails; the stream is gone either way.
      this.#options.logger.debug({ err: error }, 'etcd watch cancel failed');
    }
  }
}
