import { Pool } from 'undici';
import type { Backend } from '@api-router/contracts';
import type { Logger } from '@api-router/observability';
import { buildMarkingConnector } from './connect-phase-errors.js';

/** What the upstream client needs from a pool (an undici Pool; tests may pass another Dispatcher). */
export type UpstreamPool = Pick<Pool, 'request' | 'dispatch' | 'close' | 'destroy'>;

export interface UpstreamPoolsDeps {
  logger: Logger;
  /** Builds the pool of a backend; default an undici Pool sized and timed from the backend. */
  createPool?: (origin: string, backend: Backend) => UpstreamPool;
}

interface PoolEntry {
  readonly fingerprint: string;
  readonly pool: UpstreamPool;
}

/**
 * One connection pool per backend, kept in step with the active policy. A backend whose connection
 * settings (origin, max connections, connect timeout) are unchanged in a new policy keeps its pool and its
 * warm connections; a changed or removed backend's pool is retired: it takes no new requests and closes
 * once its in-flight requests are done. `close()` (at shutdown) closes every pool.
 *
 * A request keeps the policy it arrived with, so attempts of the previous policy still start after a
 * change (requests admitted or queued before it, failovers). Their backend gets a pool of its own, kept
 * apart from the current ones and retired at the next policy change: were it to replace the current pool,
 * each alternation of old and new requests would open a new pool and new connections, past maxConnections.
 */
export class UpstreamPools {
  readonly #deps: UpstreamPoolsDeps;
  readonly #entries = new Map<string, PoolEntry>();
  /** Pools for backends of a policy older than the synced one, by backend id and fingerprint. */
  readonly #stale = new Map<string, PoolEntry>();
  readonly #retiring = new Set<Promise<void>>();
  // Backend messages are immutable parts of a policy: a fingerprint is computed once per backend object.
  readonly #fingerprints = new WeakMap<Backend, string>();
  #syncedWith: ReadonlyMap<string, Backend> | undefined;
  #closed = false;

  constructor(deps: UpstreamPoolsDeps) {
    this.#deps = deps;
  }

  /**
   * Reconciles the pools with a policy's backends. Cheap when called again with the same map (one identity
   * check), so the request path calls it with the active policy on every request.
   */
  sync(backendsById: ReadonlyMap<string, Backend>): void {
    if (backendsById === this.#syncedWith || this.#closed) return;
    this.#syncedWith = backendsById;
    for (const [key, entry] of this.#stale) this.#retire(key, entry, this.#stale);
    for (const [id, entry] of this.#entries) {
      const backend = backendsById.get(id);
      if (backend === undefined || this.#fingerprint(backend) !== entry.fingerprint) this.#retire(id, entry);
    }
  }

  /** The pool of `backend`, created on first use. Throws once the pools are closed. */
  poolFor(backend: Backend): UpstreamPool {
    if (this.#closed) throw new Error('upstream pools are closed');
    const fingerprint = this.#fingerprint(backend);
    const entry = this.#entries.get(backend.id);
    if (entry?.fingerprint === fingerprint) return entry.pool;
    if (this.#syncedWith !== undefined && this.#syncedWith.get(backend.id) !== backend) {
      return this.#stalePoolFor(backend, fingerprint);
    }
    if (entry !== undefined) this.#retire(backend.id, entry);
    const pool = this.#createPool(backend);
    this.#entries.set(backend.id, { fingerprint, pool });
    return pool;
  }

  /** The pool of a backend of an older policy whose connection settings differ from the current ones. */
  #stalePoolFor(backend: Backend, fingerprint: string): UpstreamPool {
    const key = `${backend.id}|${fingerprint}`;
    let entry = this.#stale.get(key);
    if (entry === undefined) {
      entry = { fingerprint, pool: this.#createPool(backend) };
      this.#stale.set(key, entry);
    }
    return entry.pool;
  }

  #createPool(backend: Backend): UpstreamPool {
    return (this.#deps.createPool ?? createUndiciPool)(new URL(backend.baseUrl).origin, backend);
  }

  /** Number of live (not retired) pools. */
  size(): number {
    return this.#entries.size;
  }

  /** Closes every pool, waiting for in-flight requests (the HTTP server is closed before this). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const [key, entry] of this.#stale) this.#retire(key, entry, this.#stale);
    for (const [id, entry] of this.#entries) this.#retire(id, entry);
    await Promise.all([...this.#retiring]);
  }

  #fingerprint(backend: Backend): string {
    let fingerprint = this.#fingerprints.get(backend);
    if (fingerprint === undefined) {
      fingerprint = fingerprintOf(backend);
      this.#fingerprints.set(backend, fingerprint);
    }
    return fingerprint;
  }

  #retire(id: string, entry: PoolEntry, from: Map<string, PoolEntry> = this.#entries): void {
    from.delete(id);
    const closing = entry.pool.close().then(
      () => this.#deps.logger.debug({ backendId: id }, 'upstream pool closed'),
      (error: unknown) => this.#deps.logger.warn({ err: error, backendId: id }, 'upstream pool close failed'),
    );
    this.#retiring.add(closing);
    void closing.finally(() => this.#retiring.delete(closing));
  }
}

function fingerprintOf(backend: Backend): string {
  return `${new URL(backend.baseUrl).origin}|${backend.maxConnections}|${backend.connectTimeoutMs}`;
}

function createUndiciPool(origin: string, backend: Backend): UpstreamPool {
  return new Pool(origin, {
    connections: backend.maxConnections,
    // undici's connector, as `connect: { timeout }` builds it, whose errors are remembered: they tell a
    // request that was never sent (failover is safe) from one that may have reached the backend.
    connect: buildMarkingConnector({ timeout: backend.connectTimeoutMs }),
    // Per-request headers/body timeouts are passed with each request (they depend on the deadline).
    pipelining: 1,
  });
}
