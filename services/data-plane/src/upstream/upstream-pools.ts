import { Pool } from 'undici';
import type { Backend } from '@api-router/contracts';
import type { Logger } from '@api-router/observability';

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
 */
export class UpstreamPools {
  readonly #deps: UpstreamPoolsDeps;
  readonly #entries = new Map<string, PoolEntry>();
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
    if (entry !== undefined) this.#retire(backend.id, entry);
    const origin = new URL(backend.baseUrl).origin;
    const pool = (this.#deps.createPool ?? createUndiciPool)(origin, backend);
    this.#entries.set(backend.id, { fingerprint, pool });
    return pool;
  }

  /** Number of live (not retired) pools. */
  size(): number {
    return this.#entries.size;
  }

  /** Closes every pool, waiting for in-flight requests (the HTTP server is closed before this). */
  async close(): Promise<void> {
    this.#closed = true;
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

  #retire(id: string, entry: PoolEntry): void {
    this.#entries.delete(id);
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
    connect: { timeout: backend.connectTimeoutMs },
    // Per-request headers/body timeouts are passed with each request (they depend on the deadline).
    pipelining: 1,
  });
}
