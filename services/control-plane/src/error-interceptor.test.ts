import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { AdminService, ErrorDetailSchema } from '@api-router/contracts';
import { RouterError } from '@api-router/errors';
import { createLogger } from '@api-router/observability';
import { describe, expect, it } from 'vitest';
import { createErrorInterceptor } from './error-interceptor.js';

/** An AdminService whose GetConfigStatus throws `thrown`, behind the error interceptor. */
async function errorOf(thrown: unknown): Promise<ConnectError> {
  const logger = createLogger({ service: 'test', level: 'silent' });
  const transport = createRouterTransport((router) =>
    router.service(
      AdminService,
      {
        getConfigStatus: () => {
          throw thrown;
        },
      },
      { interceptors: [createErrorInterceptor(logger)] },
    ),
  );
  try {
    await createClient(AdminService, transport).getConfigStatus({});
  } catch (error: unknown) {
    return ConnectError.from(error);
  }
  throw new Error('the call succeeded');
}

describe('error interceptor', () => {
  it('tells two errors of one Connect code apart by the catalogue code in the details', async () => {
    const notReady = await errorOf(new RouterError('not_ready', { message: 'no snapshot yet' }));
    const storeDown = await errorOf(new RouterError('dependency_unavailable', { message: 'store down' }));
    expect(notReady.code).toBe(Code.Unavailable);
    expect(storeDown.code).toBe(Code.Unavailable);
    expect(notReady.findDetails(ErrorDetailSchema)).toEqual([
      expect.objectContaining({ code: 'not_ready', message: 'no snapshot yet', retryable: true }),
    ]);
    expect(storeDown.findDetails(ErrorDetailSchema)).toEqual([
      expect.objectContaining({ code: 'dependency_unavailable', retryable: true }),
    ]);
  });

  it('carries a RouterError’s public details, and never an internal cause', async () => {
    const error = await errorOf(
      new RouterError('invalid_request', {
        message: 'amount_micros is too large',
        details: { param: 'amount_micros' },
        cause: new Error('redis password is hunter2'),
      }),
    );
    expect(error.code).toBe(Code.InvalidArgument);
    const [detail] = error.findDetails(ErrorDetailSchema);
    expect(detail).toMatchObject({ code: 'invalid_request', retryable: false });
    expect(detail?.details).toEqual({ param: 'amount_micros' });
    expect(JSON.stringify(error)).not.toContain('hunter2');
  });

  it('leaves out of the details what JSON cannot hold, rather than failing the error', async () => {
    const error = await errorOf(
      new RouterError('not_found', { details: { budget: 'daily', missing: undefined, limit: 10n } }),
    );
    expect(error.code).toBe(Code.NotFound);
    expect(error.findDetails(ErrorDetailSchema)[0]).toMatchObject({ code: 'not_found' });
    const partial = await errorOf(
      new RouterError('not_found', { details: { budget: 'daily', missing: undefined } }),
    );
    expect(partial.findDetails(ErrorDetailSchema)[0]?.details).toEqual({ budget: 'daily' });
  });

  it('answers anything else as a bare internal error with the internal code', async () => {
    const error = await errorOf(new Error('database password is hunter2'));
    expect(error.code).toBe(Code.Internal);
    expect(error.rawMessage).not.toContain('hunter2');
    expect(error.findDetails(ErrorDetailSchema)).toEqual([
      expect.objectContaining({ code: 'internal', message: 'Internal error.', retryable: true }),
    ]);
  });

  it('passes a ConnectError as it is', async () => {
    const error = await errorOf(new ConnectError('configure Redis', Code.FailedPrecondition));
    expect(error.code).toBe(Code.FailedPrecondition);
    expect(error.rawMessage).toBe('configure Redis');
  });
});
