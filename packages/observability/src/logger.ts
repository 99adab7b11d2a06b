import { destination, pino, type Logger, type DestinationStream } from 'pino';

/** What pino's `destination()` returns: a sonic-boom. */
type SonicBoom = ReturnType<typeof destination>;

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
      timestamp: isoTimeField,
    },
    options.destination ?? bufferedStdout(),
  );
}

let isoTimeMs = Number.NaN;
let isoTimeText = '';

/**
 * pino's `stdTimeFunctions.isoTime` (`,"time":"2026-11-27T10:00:00.000Z"`), built once per millisecond:
 * under load many lines share one, and `Date.toISOString` plus the template cost ~1 µs a line.
 */
export function isoTimeField(): string {
  const nowMs = Date.now();
  if (nowMs !== isoTimeMs) {
    isoTimeMs = nowMs;
    isoTimeText = `,"time":"${new Date(nowMs).toISOString()}"`;
  }
  return isoTimeText;
}

/** Smallest chunk of buffered lines written at once (unless the flush interval comes first), in bytes. */
export const LOG_MIN_CHUNK_BYTES = 32 * 1024;
/** Largest chunk handed to one write(2), in bytes. */
export const LOG_MAX_CHUNK_BYTES = 64 * 1024;

/**
 * stdout through sonic-boom, asynchronous and buffered: lines are written in chunks of at least
 * {@link LOG_MIN_CHUNK_BYTES} (each at most {@link LOG_MAX_CHUNK_BYTES}), or every
 * {@link LOG_FLUSH_INTERVAL_MS} ms, whichever comes first, instead of one write(2) per line on the event
 * loop (pino's default). Each chunk is one libuv threadpool write, and on a small machine that write
 * competes with the event loop for the same core: fewer, larger chunks are cheaper.
 *
 * sonic-boom runs in its buffer mode, each line encoded to a Buffer as it comes ({@link Utf8LineStream}).
 * In its default string mode it appends each line to the pending chunk and then measures the chunk's UTF-8
 * length, which makes V8 copy the whole chunk into a flat string on every line: with 32 KiB chunks ~16 KiB
 * copied per line, a quarter of all the data plane allocated per request. Buffer mode keeps the lines of a
 * chunk apart and joins them once, when the chunk is written (`bash scripts/bench.sh log-destination`).
 *
 * pino flushes the buffer synchronously when the process exits (normally, by an uncaught error or on a
 * handled signal); a `kill -9` loses at most the last interval's lines (or the last 32 KiB). Logs are for
 * operators; nothing the router must not lose (usage records, audit events) goes through them.
 */
export function bufferedStdout(): DestinationStream {
  return bufferedDestination(1);
}

/** The buffered destination of {@link bufferedStdout} over any file descriptor or path (its benchmark writes a file). */
export function bufferedDestination(dest: number | string): DestinationStream {
  const chunks = destination({
    dest,
    sync: false,
    contentMode: 'buffer',
    minLength: LOG_MIN_CHUNK_BYTES,
    maxWrite: LOG_MAX_CHUNK_BYTES,
    periodicFlush: LOG_FLUSH_INTERVAL_MS,
  });
  return new Utf8LineStream(chunks);
}

/**
 * What pino writes to: each line (a string) goes to sonic-boom as UTF-8 bytes, as its buffer mode takes
 * them. Flushing is sonic-boom's, and so is the flush at exit (pino registers it when it builds the
 * sonic-boom in `destination()`).
 */
class Utf8LineStream implements DestinationStream {
  readonly #chunks: SonicBoom;

  constructor(chunks: SonicBoom) {
    this.#chunks = chunks;
  }

  write(line: string): void {
    // sonic-boom's types only know its string mode; in buffer mode its write takes Buffers.
    (this.#chunks as unknown as { write(bytes: Buffer): boolean }).write(Buffer.from(line, 'utf8'));
  }

  flush(done?: (error?: Error) => unknown): void {
    this.#chunks.flush(done);
  }

  flushSync(): void {
    this.#chunks.flushSync();
  }

  end(): void {
    this.#chunks.end();
  }
}

export type { Logger };
