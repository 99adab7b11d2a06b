import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { PolicySnapshotSchema, type PolicySnapshot } from '@api-router/contracts';
import { computeSnapshotHash, type AdminTokenConfig } from '@api-router/policy';
import type { Logger } from 'pino';

/** What survives a control-plane restart: the last good snapshot and the admin tokens of its config. */
export interface PersistedState {
  snapshot: PolicySnapshot;
  adminTokens: readonly AdminTokenConfig[];
}

const FILE_NAME = 'last-good-snapshot.json';
const FORMAT = 1;

/**
 * Keeps the last good snapshot in `<directory>/last-good-snapshot.json` so that versions keep increasing
 * across restarts and data planes get a snapshot at once after a restart. Writes are atomic (temp file,
 * fsync, rename, fsync of the directory) and serialised; when several saves queue up only the newest is
 * written. Write failures are logged, never thrown: persistence is a convenience, serving is not.
 */
export class SnapshotStateStore {
  readonly #directory: string;
  readonly #logger: Logger;
  #pending: PersistedState | undefined;
  #writing: Promise<void> | undefined;

  constructor(options: { directory: string; logger: Logger }) {
    this.#directory = options.directory;
    this.#logger = options.logger;
  }

  /** Path of the state file. */
  get path(): string {
    return join(this.#directory, FILE_NAME);
  }

  /**
   * Reads the persisted state. Missing → undefined. Corrupt (bad JSON, bad protobuf, hash mismatch) → logged
   * and undefined: the control plane then starts as if it had no state.
   */
  async load(): Promise<PersistedState | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error: unknown) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      this.#logger.error({ err: error, path: this.path }, 'cannot read persisted snapshot; ignoring it');
      return undefined;
    }
    try {
      return decodeState(text);
    } catch (error: unknown) {
      this.#logger.error({ err: error, path: this.path }, 'persisted snapshot is corrupt; ignoring it');
      return undefined;
    }
  }

  /** Queues `state` for writing; returns at once. */
  save(state: PersistedState): void {
    this.#pending = state;
    this.#writing ??= this.#drain();
  }

  /** Resolves once every queued save is on disk (or has failed and been logged). */
  async flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending !== undefined) {
        const state = this.#pending;
        this.#pending = undefined;
        try {
          await this.#write(encodeState(state));
        } catch (error: unknown) {
          this.#logger.error({ err: error, path: this.path }, 'cannot persist snapshot');
        }
      }
    } finally {
      this.#writing = undefined;
    }
  }

  async #write(text: string): Promise<void> {
    await mkdir(this.#directory, { recursive: true });
    const temporary = `${this.path}.${process.pid}.tmp`;
    const file = await open(temporary, 'w', 0o600);
    try {
      await file.writeFile(text, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, this.path);
    const directory = await open(this.#directory, 'r');
    try {
      // Makes the rename itself durable.
      await directory.sync();
    } finally {
      await directory.close();
    }
  }
}

function encodeState(state: PersistedState): string {
  return JSON.stringify({
    format: FORMAT,
    // Binary, not JSON, so that the bytes (and so the content hash) survive the round trip exactly.
    snapshot: Buffer.from(toBinary(PolicySnapshotSchema, state.snapshot)).toString('base64'),
    adminTokens: state.adminTokens,
  });
}

function decodeState(text: string): PersistedState {
  const value = JSON.parse(text) as { format?: unknown; snapshot?: unknown; adminTokens?: unknown };
  if (value.format !== FORMAT) throw new Error(`unknown state format ${String(value.format)}`);
  if (typeof value.snapshot !== 'string') throw new Error('snapshot is missing');
  const snapshot = fromBinary(PolicySnapshotSchema, Buffer.from(value.snapshot, 'base64'));
  if (snapshot.version === 0n || computeSnapshotHash(snapshot) !== snapshot.contentHash) {
    throw new Error('snapshot version or content hash is invalid');
  }
  if (!Array.isArray(value.adminTokens) || !value.adminTokens.every(isAdminToken)) {
    throw new Error('adminTokens are invalid');
  }
  return { snapshot, adminTokens: value.adminTokens };
}

function isAdminToken(value: unknown): value is AdminTokenConfig {
  if (typeof value !== 'object' || value === null) return false;
  const token = value as Record<string, unknown>;
  return (
    typeof token.id === 'string' &&
    typeof token.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(token.sha256) &&
    (token.role === 'viewer' || token.role === 'operator' || token.role === 'admin')
  );
}
