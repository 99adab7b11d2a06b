/**
 * The logging this package needs: progress lines with structured fields. A pino Logger (from
 * @api-router/observability) fits; the default is {@link silentLogger}.
 */
export interface ServiceLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** Writes nothing; used when a caller passes no logger. */
export function silentLogger(): ServiceLogger {
  return { info: () => undefined, warn: () => undefined };
}
