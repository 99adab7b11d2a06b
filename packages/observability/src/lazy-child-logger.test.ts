import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { LazyChildLogger } from './lazy-child-logger.js';

function capture(level = 'info'): {
  logger: ReturnType<typeof createLogger>;
  lines: () => Record<string, unknown>[];
} {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  const logger = createLogger({ service: 't', level, destination });
  const lines = (): Record<string, unknown>[] =>
    text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines };
}

describe('LazyChildLogger', () => {
  it('builds no pino child until a line is written, then writes it with the bindings, redacted', () => {
    const { logger, lines } = capture();
    const child = new LazyChildLogger(logger, { request_id: 'r-1' });
    expect(child.realized).toBe(false);
    expect(child.level).toBe('info');
    expect(child.isLevelEnabled('debug')).toBe(false);
    child.debug({ authorization: 'Bearer sk-secret' }, 'not at this level');
    expect(child.realized).toBe(false);

    child.warn({ authorization: 'Bearer sk-secret', code: 'x' }, 'refused');
    child.info('plain %s', 'message');
    expect(child.realized).toBe(true);
    const written = lines();
    expect(written).toHaveLength(2);
    expect(written[0]).toMatchObject({
      level: 40,
      service: 't',
      request_id: 'r-1',
      code: 'x',
      authorization: '[redacted]',
      msg: 'refused',
    });
    expect(written[1]).toMatchObject({ level: 30, request_id: 'r-1', msg: 'plain message' });
    expect(JSON.stringify(written)).not.toContain('sk-secret');
  });

  it('keeps a level given to the child (a route log level) and children of it carry both bindings', () => {
    const { logger, lines } = capture('info');
    const child = new LazyChildLogger(logger, { request_id: 'r-2' }, { level: 'debug' });
    expect(child.level).toBe('debug');
    child.debug('route debug line');
    child.child({ attempt: 2 }).info('nested');
    expect(lines()).toEqual([
      expect.objectContaining({ level: 20, request_id: 'r-2', msg: 'route debug line' }),
      expect.objectContaining({ level: 30, request_id: 'r-2', attempt: 2, msg: 'nested' }),
    ]);
    expect(child.bindings()).toMatchObject({ request_id: 'r-2' });
  });

  it('writes nothing for silent()', () => {
    const { logger, lines } = capture();
    const child = new LazyChildLogger(logger, { request_id: 'r-3' });
    child.silent();
    expect(lines()).toEqual([]);
    expect(child.realized).toBe(false);
  });
});
