import { create } from '@bufbuild/protobuf';
import { QueuePolicySchema } from '@api-router/contracts';
import { describe, expect, it } from 'vitest';
import { limitSet } from './limit-set.test-support.js';
import { resolveQueuePolicy } from './resolve-queue-policy.js';

const queue = (maxWaitMs: number, maxLength: number) => create(QueuePolicySchema, { maxWaitMs, maxLength });
const owners = (keyQueue?: ReturnType<typeof queue>, tenantQueue?: ReturnType<typeof queue>) => ({
  tenant: { id: 'acme', limits: tenantQueue === undefined ? undefined : limitSet({ queue: tenantQueue }) },
  key: {
    publicId: 'rk_acme0001',
    limits: keyQueue === undefined ? undefined : limitSet({ queue: keyQueue }),
  },
});

describe('resolveQueuePolicy', () => {
  it('forbids queueing when no owner sets a queue', () => {
    expect(resolveQueuePolicy(owners())).toBeUndefined();
  });

  it('uses the only queue that is set', () => {
    expect(resolveQueuePolicy(owners(queue(2000, 32)))).toEqual({
      maxWaitMs: 2000,
      keyMaxLength: 32,
      tenantMaxLength: undefined,
    });
    expect(resolveQueuePolicy(owners(undefined, queue(500, 100)))).toEqual({
      maxWaitMs: 500,
      keyMaxLength: undefined,
      tenantMaxLength: 100,
    });
  });

  it('waits the shorter time and bounds each owner by its own length', () => {
    expect(resolveQueuePolicy(owners(queue(2000, 32), queue(500, 100)))).toEqual({
      maxWaitMs: 500,
      keyMaxLength: 32,
      tenantMaxLength: 100,
    });
  });

  it('forbids queueing when any owner that sets a queue forbids it', () => {
    expect(resolveQueuePolicy(owners(queue(2000, 32), queue(0, 0)))).toBeUndefined();
    expect(resolveQueuePolicy(owners(queue(0, 0), queue(500, 100)))).toBeUndefined();
  });
});
