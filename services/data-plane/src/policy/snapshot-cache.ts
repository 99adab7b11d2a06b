import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { PolicySnapshotSchema, type PolicySnapshot } from '@api-router/contracts';
import type { Logger } from '@api-router/observability';
import type { Clock } from '../clock.js';
import type { PolicyMetrics } from '../metrics/policy-metrics.js';
import type { ApplyResult } from './policy-holder.js';
import { decodeSnapshotEnvelope, encodeSnapshotEnvelope } from './snapshot-envelope.js';

export const SNAPSHOT_FILE_NAME = 'policy-snapshot.bin';

export type CacheRestoreResult =
  | { readonly outcome: 'loaded'; readonly version: bigint }
  | { readonly outcome: 'missing' }
  | { readonly outcome: 'corrupt'; readonly reason: string; readonly movedTo: string | undefined };

export interface SnapshotCacheDeps {
  /** Directory of the cache file; created on first save. */
  dir: string;
  logger: Logger;
  clock: Clock;
  metrics: PolicyMetrics;
}

/**
 * The last good policy snapshot on local disk, so a data plane restarts serving even while the control
 * plane is down. Writes are atomic (temp file, fsync, rename, fsync of the directory); reads verify length
 * and sha256. The cache never throws: a bad file is reported, counted, renamed aside (so a restart does not
 * trip over it again) and the data plane waits for the control plane instead.
 */
export class SnapshotCache {
  readonly #deps: SnapshotCacheDeps;
  readonly #path: string;
  #writes: Promise<void> = Promise.resolve();

  constructor(deps: SnapshotCacheDeps) {
    this.#deps = deps;
    this.#path = join(deps.dir, SNAPSHOT_FILE_NAME);
  }

  /** Absolute or relative path of the cache file. */
  get path(): string {
    return this.#path;
  }

  /**
   * Reads the cached snapshot and hands it to `accept` (the policy holder). A file that cannot be read,
   * decoded or accepted is "corrupt". Counts router_policy_cache_load_total{outcome}.
   */
  async restore(accept: (snapshot: PolicySnapshot) => Promise<ApplyResult>): Promise<CacheRestoreResult> {
    const result = await this.#restore(accept);
    const { logger, metrics } = this.#deps;
    metrics.cacheLoadTotal.inc({ outcome: result.outcome });
    if (result.outcome === 'loaded') {
      logger.info({ file: this.#path, version: result.version.toString() }, 'policy cache loaded');
    } else if (result.outcome === 'missing') {
      logger.info({ file: this.#path }, 'policy cache missing, waiting for the control plane');
    } else {
      logger.error(
        { file: this.#path, reason: result.reason, movedTo: result.movedTo },
        `policy cache ${this.#path} is corrupt (${result.reason}); set aside, waiting for the control plane`,
      );
    }
    return result;
  }

  async #restore(accept: (snapshot: PolicySnapshot) => Promise<ApplyResult>): Promise<CacheRestoreResult> {
    await this.#removeTemp();
    let file: Buffer;
    try {
      file = await readFile(this.#path);
    } catch (error: unknown) {
      if (isErrorCode(error, 'ENOENT')) return { outcome: 'missing' };
      return this.#setAside(`cannot read: ${describe(error)}`);
    }
    const decoded = decodeSnapshotEnvelope(file);
    if ('problem' in decoded) return this.#setAside(decoded.problem);
    let snapshot: PolicySnapshot;
    try {
      snapshot = fromBinary(PolicySnapshotSchema, decoded.payload);
    } catch (error: unknown) {
      return this.#setAside(`payload is not a PolicySnapshot: ${describe(error)}`);
    }
    const applied = await accept(snapshot);
    if (applied.outcome === 'rejected') return this.#setAside(`snapshot rejected: ${applied.reason}`);
    return { outcome: 'loaded', version: applied.version };
  }

  /**
   * Persists `snapshot` as the new last good one. Writes are serialised in call order. Never throws: a
   * failed write is logged and the previous file stays intact (the rename is the commit point).
   */
  save(snapshot: PolicySnapshot): Promise<void> {
    const write = this.#writes.then(() => this.#write(snapshot));
    this.#writes = write;
    return write;
  }

  /** Resolves once every save issued so far has finished. */
  flush(): Promise<void> {
    return this.#writes;
  }

  async #write(snapshot: PolicySnapshot): Promise<void> {
    const temp = `${this.#path}.tmp`;
    try {
      await mkdir(this.#deps.dir, { recursive: true });
      const handle = await open(temp, 'w', 0o600);
      try {
        await handle.writeFile(encodeSnapshotEnvelope(toBinary(PolicySnapshotSchema, snapshot)));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.#path);
      await syncDirectory(this.#deps.dir);
      this.#deps.logger.debug(
        { file: this.#path, version: snapshot.version.toString() },
        'policy cache saved',
      );
    } catch (error: unknown) {
      // The data plane keeps serving from memory; only a restart without a control plane would miss this.
      this.#deps.logger.error({ err: error, file: this.#path }, 'policy cache write failed');
    }
  }

  async #setAside(reason: string): Promise<CacheRestoreResult> {
    const movedTo = `${this.#path}.corrupt-${this.#deps.clock.now()}`;
    try {
      await rename(this.#path, movedTo);
      return { outcome: 'corrupt', reason, movedTo };
    } catch (error: unknown) {
      // Cannot move it (read-only disk?): still do not crash; the next save overwrites it anyway.
      this.#deps.logger.error(
        { err: error, file: this.#path },
        'could not set the corrupt policy cache aside',
      );
      return { outcome: 'corrupt', reason, movedTo: undefined };
    }
  }

  async #removeTemp(): Promise<void> {
    try {
      await rm(`${this.#path}.tmp`, { force: true });
    } catch (error: unknown) {
      // A leftover temp file is harmless (the next save truncates it); note it and go on.
      this.#deps.logger.warn(
        { err: error, file: `${this.#path}.tmp` },
        'could not remove a leftover temp file',
      );
    }
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isErrorCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
