import { toBinary } from '@bufbuild/protobuf';
import { PolicySnapshotSchema, type PolicySnapshot } from '@api-router/contracts';
import {
  ConfigInvalidError,
  MAX_SNAPSHOT_BYTES,
  compileSnapshot,
  parseConfig,
  type AdminTokenConfig,
  type ConfigDocuments,
} from '@api-router/policy';
import type { Logger } from 'pino';
import type { Clock } from './clock.js';
import type { ConfigSourceError } from './config-source.js';
import type { ControlPlaneMetrics } from './control-plane-metrics.js';
import type { PersistedState } from './snapshot-state-store.js';

/** The last config problem, as GetConfigStatus reports it. */
export interface ConfigErrorRecord {
  /** File path or etcd key holding the problem. */
  source: string;
  /** Location inside the document, e.g. "routes[2].targets[0].weight"; "" for the whole document. */
  path: string;
  /** 1-based line; 0 when unknown. */
  line: number;
  message: string;
  at: Date;
}

export interface ConfigStatus {
  /** Version being published; 0n before the first snapshot. */
  publishedVersion: bigint;
  /** Revision of the latest source content that is being published (applied or unchanged). */
  sourceRevision: string;
  /** Cleared by the next good config. */
  lastError: ConfigErrorRecord | undefined;
}

export type ReloadOutcome = 'applied' | 'unchanged' | 'invalid';

export interface SnapshotPublisherDeps {
  clock: Clock;
  logger: Logger;
  metrics: Pick<ControlPlaneMetrics, 'publishedVersion' | 'configReloads'>;
  /** Where published states go to survive restarts (see SnapshotStateStore); must not throw. */
  store: { save(state: PersistedState): void };
  /** Largest snapshot published, in bytes; default MAX_SNAPSHOT_BYTES, what data planes accept. */
  maxSnapshotBytes?: number;
}

/**
 * Holds the snapshot being published and turns config documents into new ones (compile, then swap: a bad
 * config never replaces a good snapshot). Versions follow max(previous + 1, now in ms); a config whose
 * content equals the published one (ignoring where it came from) is not re-versioned. Watchers always get
 * the latest snapshot, never a queue of intermediate ones.
 */
export class SnapshotPublisher {
  readonly #deps: SnapshotPublisherDeps;
  #snapshot: PolicySnapshot | undefined;
  #adminTokens: readonly AdminTokenConfig[] = [];
  #sourceRevision = '';
  #lastError: ConfigErrorRecord | undefined;
  #waiters = new Set<() => void>();
  #closed = false;

  constructor(deps: SnapshotPublisherDeps) {
    this.#deps = deps;
  }

  /** The snapshot being published, or undefined before the first one. */
  current(): PolicySnapshot | undefined {
    return this.#snapshot;
  }

  /** Admin tokens of the config behind the published snapshot (control-plane only, never in snapshots). */
  adminTokens(): readonly AdminTokenConfig[] {
    return this.#adminTokens;
  }

  status(): ConfigStatus {
    return {
      publishedVersion: this.#snapshot?.version ?? 0n,
      sourceRevision: this.#sourceRevision,
      lastError: this.#lastError,
    };
  }

  /** Publishes a persisted state at start, before the config source has delivered anything. */
  restore(state: PersistedState): void {
    this.#adminTokens = state.adminTokens;
    this.#sourceRevision = state.snapshot.sourceRevision;
    this.#swap(state.snapshot);
    this.#deps.logger.info({ version: state.snapshot.version.toString() }, 'restored persisted snapshot');
  }

  /** Validates and compiles `documents`; publishes them unless invalid or unchanged. Never throws. */
  accept(documents: ConfigDocuments, revision: string): ReloadOutcome {
    const outcome = this.#compile(documents, revision);
    this.#deps.metrics.configReloads.inc({ outcome });
    return outcome;
  }

  /** Records a config source failure (missing document, store unreachable); the last good snapshot stays. */
  reportSourceError(error: ConfigSourceError): void {
    this.#lastError = { source: error.source, path: '', line: 0, message: error.message, at: this.#now() };
    if (error.kind !== 'unavailable') this.#deps.metrics.configReloads.inc({ outcome: 'invalid' });
    this.#deps.logger.warn(
      { err: error.cause, source: error.source, reason: error.message },
      'config source failed; keeping last good snapshot',
    );
  }

  /**
   * Yields the current snapshot (if any) at once, then the latest one each time the consumer asks for more
   * and a newer one exists. A slow consumer skips intermediate versions. With `idleMs`, yields `undefined`
   * after each `idleMs` without a newer snapshot (a heartbeat for the consumer). Ends when `signal` aborts or
   * the publisher closes.
   */
  async *watch(
    signal: AbortSignal,
    idleMs?: number,
  ): AsyncGenerator<PolicySnapshot | undefined, void, undefined> {
    let lastVersion: bigint | undefined;
    while (!signal.aborted && !this.#closed) {
      const snapshot = this.#snapshot;
      if (snapshot !== undefined && snapshot.version !== lastVersion) {
        lastVersion = snapshot.version;
        yield snapshot;
        continue;
      }
      const outcome = await this.#nextChange(signal, idleMs);
      if (outcome === 'idle' && !signal.aborted && !this.#closed) yield undefined;
    }
  }

  /** Ends every watch. */
  close(): void {
    this.#closed = true;
    this.#wake();
  }

  #compile(documents: ConfigDocuments, revision: string): ReloadOutcome {
    const { logger } = this.#deps;
    try {
      const config = parseConfig(documents);
      const previous = this.#snapshot?.version ?? 0n;
      const now = this.#now();
      const floor = BigInt(now.getTime());
      const version = previous + 1n > floor ? previous + 1n : floor;
      const snapshot = compileSnapshot(config, { version, sourceRevision: revision, createdAt: now });
      this.#checkSize(snapshot, documents);
      this.#lastError = undefined;
      this.#sourceRevision = revision;
      const tokensChanged = JSON.stringify(config.router.admin.tokens) !== JSON.stringify(this.#adminTokens);
      this.#adminTokens = config.router.admin.tokens;
      // content_hash leaves out version, time and source revision: a whitespace-only edit, or the same
      // content moved between sources, is "unchanged".
      if (this.#snapshot !== undefined && snapshot.contentHash === this.#snapshot.contentHash) {
        if (tokensChanged)
          this.#deps.store.save({ snapshot: this.#snapshot, adminTokens: this.#adminTokens });
        logger.info({ revision, version: this.#snapshot.version.toString() }, 'config unchanged');
        return 'unchanged';
      }
      this.#swap(snapshot);
      this.#deps.store.save({ snapshot, adminTokens: this.#adminTokens });
      logger.info(
        { revision, version: version.toString(), contentHash: snapshot.contentHash },
        'snapshot published',
      );
      return 'applied';
    } catch (error: unknown) {
      this.#recordInvalid(error, revision);
      return 'invalid';
    }
  }

  /** A snapshot no data plane would receive (its stream fails, again at every reconnect) is refused here. */
  #checkSize(snapshot: PolicySnapshot, documents: ConfigDocuments): void {
    const maxBytes = this.#deps.maxSnapshotBytes ?? MAX_SNAPSHOT_BYTES;
    const bytes = toBinary(PolicySnapshotSchema, snapshot).length;
    if (bytes <= maxBytes) return;
    // Keys and tenants (policies.yaml) are what grows; the message names both documents anyway.
    const message =
      `the config compiles to ${bytes} bytes, more than the ${maxBytes} bytes a data plane accepts in ` +
      `one snapshot: reduce the entries of ${documents.router.source} and ${documents.policies.source}`;
    throw new ConfigInvalidError([{ source: documents.policies.source, path: '', line: 0, message }]);
  }

  #recordInvalid(error: unknown, revision: string): void {
    const at = this.#now();
    if (error instanceof ConfigInvalidError) {
      const first = error.issues[0];
      this.#lastError =
        first === undefined
          ? { source: revision, path: '', line: 0, message: error.message, at }
          : { ...first, at };
      this.#deps.logger.warn(
        {
          revision,
          source: first?.source,
          path: first?.path,
          line: first?.line,
          reason: first?.message,
          issues: error.issues,
        },
        'config rejected; keeping last good snapshot',
      );
      return;
    }
    // Not a config problem but a bug in compilation; still keep serving the last good snapshot.
    const message = error instanceof Error ? error.message : String(error);
    this.#lastError = { source: revision, path: '', line: 0, message, at };
    this.#deps.logger.error(
      { err: error, revision },
      'config compilation failed; keeping last good snapshot',
    );
  }

  #swap(snapshot: PolicySnapshot): void {
    this.#snapshot = snapshot;
    this.#deps.metrics.publishedVersion.set(Number(snapshot.version));
    this.#wake();
  }

  #nextChange(signal: AbortSignal, idleMs: number | undefined): Promise<'changed' | 'idle'> {
    return new Promise((resolve) => {
      const finish = (outcome: 'changed' | 'idle'): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', changed);
        this.#waiters.delete(changed);
        resolve(outcome);
      };
      const changed = (): void => finish('changed');
      const timer = idleMs === undefined ? undefined : setTimeout(() => finish('idle'), idleMs);
      signal.addEventListener('abort', changed, { once: true });
      this.#waiters.add(changed);
    });
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    for (const waiter of waiters) waiter();
  }

  #now(): Date {
    return new Date(this.#deps.clock.now());
  }
}
