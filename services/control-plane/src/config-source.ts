import type { ConfigDocuments } from '@api-router/policy';

/** Receives what a config source reads. Callbacks are never called after `close()` resolves. */
export interface ConfigSourceListener {
  /**
   * Both documents, read together. `revision` names the content for humans and is stable for identical
   * content: "file:<sha256 prefix>" or "etcd:<prefix>@<modRevision>".
   */
  onDocuments(documents: ConfigDocuments, revision: string): void;
  /** The documents could not be read (missing document, etcd unreachable). The source keeps trying. */
  onError(error: ConfigSourceError): void;
}

/**
 * Where the two config documents live (the "Config Service"). A source delivers the current documents soon
 * after `start` and again whenever they change; it never validates them (that is the publisher's job).
 */
export interface ConfigSource {
  /** "file" or "etcd", for logs. */
  readonly kind: string;
  /** Begins reading and watching. Outcomes arrive asynchronously through `listener`. Call once. */
  start(listener: ConfigSourceListener): void;
  /** Stops watching and releases timers and watchers. Idempotent. */
  close(): Promise<void>;
}

/** Why a source could not deliver documents. */
export type ConfigSourceErrorKind = 'missing' | 'unreadable' | 'unavailable';

/** A config source failure: a document is missing or unreadable, or the store is unreachable. */
export class ConfigSourceError extends Error {
  readonly kind: ConfigSourceErrorKind;
  /** File path or etcd key (or endpoint list) the failure is about. */
  readonly source: string;

  constructor(kind: ConfigSourceErrorKind, source: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConfigSourceError';
    this.kind = kind;
    this.source = source;
  }
}
