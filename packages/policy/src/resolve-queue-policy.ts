import type { LimitOwners } from './build-limit-plan.js';

/** How long and in which bounds a request denied by concurrency may wait for a slot. */
export interface ResolvedQueuePolicy {
  /** Longest wait, in milliseconds (> 0): the smallest max_wait_ms of the owners that set a queue. */
  readonly maxWaitMs: number;
  /** Most waiting requests of the tenant (its fair queue); undefined when the tenant sets no queue. */
  readonly tenantMaxLength: number | undefined;
  /** Most waiting requests of the key; undefined when the key sets no queue. */
  readonly keyMaxLength: number | undefined;
}

/**
 * Combines the key's and the tenant's QueuePolicy as policy.proto describes: a request may queue only when
 * at least one of them has a queue and none that has one forbids it (max_wait_ms or max_length 0); it then
 * waits at most the smallest max_wait_ms, and each owner's max_length bounds that owner's waiting requests.
 * Returns undefined when the request must be rejected at once instead.
 */
export function resolveQueuePolicy(owners: LimitOwners): ResolvedQueuePolicy | undefined {
  const keyQueue = owners.key.limits?.queue;
  const tenantQueue = owners.tenant.limits?.queue;
  const queues = [keyQueue, tenantQueue].filter((queue) => queue !== undefined);
  if (queues.length === 0) return undefined;
  if (queues.some((queue) => queue.maxWaitMs === 0 || queue.maxLength === 0)) return undefined;
  return {
    maxWaitMs: Math.min(...queues.map((queue) => queue.maxWaitMs)),
    tenantMaxLength: tenantQueue?.maxLength,
    keyMaxLength: keyQueue?.maxLength,
  };
}
