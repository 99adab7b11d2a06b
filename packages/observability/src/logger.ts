import { destination, pino, type Logger, type DestinationStream } from 'pino';

/** Paths redacted from every log line: credentials of clients, admins and backends. */
export const REDACTED_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.signature',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'apiKey',
  'secret',
  'token',
  '*.apiKey',
  '*.secret',
  '*.token',
  '*.authorization',
];

export interface LoggerOptions {
  /** Service name put on every line as `service`. */
  service: string;
  /** pino level; default "info". */
  level?: string;
  /** Where lines go; default stdout, buffered (see {@link bufferedStdout}). Tests pass a stream to read them. */
  destination?: DestinationStream;
}

/** How long a log line may wait in the stdout buffer before it is written, in ms. */
export const LOG_FLUSH_INTERVAL_MS = 100;

/** JSON logger with secrets redacted. One per service, built in its composition root. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: options.service },
      redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? bufferedStdout(),
  );
}

/**
 * stdout through sonic-boom, asynchronous and buffered: lines are written in chunks of at least 4 KiB, or
 * every {@link LOG_FLUSH_INTERVAL_MS} ms, whichever comes first, instead of one write(2) per line on the
 * event loop (pino's default). At a few thousand requests per second that is the difference between
 * thousands of syscalls a second on the request path and a few hundred off it. pino flushes the buffer
 * synchronously when the process exits (normally, by an uncaught error or on a handled signal); a
 * `kill -9` loses at most the last interval's lines. Logs are for operators; nothing the router must not
 * lose (usage records, audit events) goes through them.
 */
export function bufferedStdout(): DestinationStream {
  return destination({
    dest: 1,
    sync: false,
    minLength: 4096,
    periodicFlush: LOG_FLUSH_INTERVAL_MS,
  });
}

export type { Logger };
