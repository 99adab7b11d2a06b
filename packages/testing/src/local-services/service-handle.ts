import type { ServiceLogger } from './service-logger.js';

/** A backing service started for tests or local runs. */
export interface ServiceHandle {
  /** "redis", "postgres", "etcd" or "kafka". */
  readonly name: string;
  /**
   * How clients reach it: redis://127.0.0.1:P, postgres://postgres@127.0.0.1:P/postgres,
   * http://127.0.0.1:P (etcd) or 127.0.0.1:P (Kafka bootstrap broker).
   */
  readonly url: string;
  /** Process id of the server itself (not of a wrapper), used to stop it. */
  readonly pid: number;
  /** The server's own log file, for diagnosis. */
  readonly logFile: string;
  /**
   * The server's working directory (its data and logs): `<runDir>/<name>`, or a directory of its own
   * under the system temp directory when the server's user cannot reach `runDir` (`outsideServiceDir`).
   */
  readonly dir: string;
  /** Stops the server by pid (its shutdown signal, SIGKILL after a grace period); resolves once it is gone. */
  stop(): Promise<void>;
}

export interface StartServiceOptions {
  /**
   * Directory owned by the caller; the service keeps its data and logs in `<runDir>/<name>/`, which is
   * wiped first so every start is fresh.
   */
  runDir: string;
  /** Progress messages; default silent. */
  logger?: ServiceLogger;
  /** Port to listen on (127.0.0.1); default a free one. */
  port?: number;
  /** How long to wait for the first successful probe; each service has its own default. */
  readyTimeoutMs?: number;
}
