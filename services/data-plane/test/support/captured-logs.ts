import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@api-router/observability';

/** A real (redacting) service logger whose JSON lines the test can read back. */
export interface CapturedLogs {
  readonly logger: Logger;
  /** Every line so far, parsed. */
  lines(): Record<string, unknown>[];
  /** Lines whose msg equals `message`. */
  withMessage(message: string): Record<string, unknown>[];
}

export function captureLogs(level = 'debug'): CapturedLogs {
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      raw.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((line) => line !== ''),
      );
      callback();
    },
  });
  const logger = createLogger({ service: 'data-plane', level, destination });
  const lines = (): Record<string, unknown>[] =>
    raw.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, withMessage: (message) => lines().filter((line) => line.msg === message) };
}
