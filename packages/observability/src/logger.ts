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

/** Smallest chunk of buffered lines written at once (unless the flush interval comes first), in bytes. */
export const LOG_MIN_CHUNK_BYTES = 4 * 1024;
/** Largest chunk handed to one write(2), in bytes (sonic-boom needs it above the minimum). */
export const LOG_MAX_CHUNK_BYTES = 8 * 1024;

/**
 * stdout through sonic-boom, asynchronous and buffered: lines are written in chunks of at least
 * {@link LOG_MIN_CHUNK_BYTES} (each at most {@link LOG_MAX_CHUNK_BYTES}), or every
 * {@link LOG_FLUSH_INTERVAL_MS} ms, whichever comes first, instead of one write(2) per line on the event
 * loop (pino's default). Each chunk is one libuv threadpool write.
 *
 * The chunk size is bounded on purpose: sonic-boom appends each line to the pending chunk (a string) and
 * then measures that chunk's UTF-8 length, which makes V8 copy the whole chunk into a flat string on every
 * line. With 32–64 KiB chunks that copy averaged ~16 KiB per line: a quarter of everything the data plane
 * allocated per request (V8 sampling heap profile, 20 ms backend) and ~2 µs more CPU per line than 4–8 KiB
 * chunks (`bash scripts/bench.sh log-destination`). pino flushes the buffer synchronously when the process
 * exits (normally, by an uncaught error or on a handled signal); a `kill -9` loses at most the last
 * interval's lines. Logs are for operators; nothing the router must not lose (usage records, audit
 * events) goes through them.
 */
export function bufferedStdout(): DestinationStream {
  return bufferedDestination(1);
}

/** The buffered destination of {@link bufferedStdout} over any file descriptor or path (its benchmark writes a file). */
export function bufferedDestination(dest: number | string): DestinationStream {
  return destination({
    dest,
    sync: false,
    minLength: LOG_MIN_CHUNK_BYTES,
    maxWrite: LOG_MAX_CHUNK_BYTES,
    periodicFlush: LOG_FLUSH_INTERVAL_MS,
  });
}

export type { Logger };
