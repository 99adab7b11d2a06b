import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino';

/** A log call's arguments, as pino takes them: (object, message?, …format args) or (message, …format args). */
type LineArgs = [objectOrMessage: unknown, message?: string, ...formatArgs: unknown[]];

/**
 * A child logger that becomes a real pino child only when a line is written through it at an enabled level
 * (or something only a real child has is asked for). fastify builds one child logger per request
 * (`request.log`, bound to the request id); pino's `child()` serialises the bindings through the parent's
 * redaction on the spot, ~1–2 µs and a few hundred bytes per request, while most requests never log through
 * it (their one access line goes through its own logger). Lines written through it are the real child's:
 * same bindings, serializers and redaction.
 */
export class LazyChildLogger {
  readonly #parent: Logger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;
  #child: Logger | undefined;

  constructor(parent: Logger, bindings: Bindings, options: ChildLoggerOptions = {}) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  /** Whether the real child exists yet (for tests). */
  get realized(): boolean {
    return this.#child !== undefined;
  }

  get level(): string {
    return this.#child?.level ?? this.#options.level ?? this.#parent.level;
  }

  set level(level: string) {
    this.#real().level = level;
  }

  isLevelEnabled(level: string): boolean {
    if (this.#child !== undefined || this.#options.level !== undefined)
      return this.#real().isLevelEnabled(level);
    return this.#parent.isLevelEnabled(level);
  }

  fatal(...args: LineArgs): void {
    this.#write('fatal', args);
  }

  error(...args: LineArgs): void {
    this.#write('error', args);
  }

  warn(...args: LineArgs): void {
    this.#write('warn', args);
  }

  info(...args: LineArgs): void {
    this.#write('info', args);
  }

  debug(...args: LineArgs): void {
    this.#write('debug', args);
  }

  trace(...args: LineArgs): void {
    this.#write('trace', args);
  }

  silent(): void {
    // Writes nothing, like pino's.
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.#real().child(bindings, options);
  }

  bindings(): Bindings {
    return this.#real().bindings();
  }

  #write(level: Level, args: LineArgs): void {
    if (!this.isLevelEnabled(level)) return;
    const logger = this.#real();
    logger[level](...args);
  }

  #real(): Logger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options);
    return this.#child;
  }
}
