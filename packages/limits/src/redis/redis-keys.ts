import type { LimitCheck } from '../limit-plan.js';

/**
 * Key layout: `<prefix>{<partition>}:<kind>:<id>`. Every key of one admission carries the tenant partition as
 * its Redis Cluster hash tag, so one script can touch them all on one shard. The trade-off: a tenant's limits
 * all live on one shard (a very hot tenant is a hot shard), and no single admission can include a check
 * shared across tenants (a global limit) — that would need its own round trip on its own shard.
 */
export interface RedisKeys {
  /** The partition's monotonic clock (see partition-clock.ts). */
  clock(partition: string): string;
  record(partition: string, requestId: string): string;
  /** The keys of one check, in the order the scripts consume them. */
  check(partition: string, check: LimitCheck): string[];
  budget(partition: string, id: string): [hash: string, reservations: string];
  /** The marker of a budget change id (budget-admin-script.ts). */
  budgetChange(partition: string, changeId: string): string;
}

export function createRedisKeys(keyPrefix: string): RedisKeys {
  if (/[{}]/.test(keyPrefix))
    throw new RangeError('keyPrefix must not contain { or } (it would break the hash tag)');
  const base = (partition: string): string => `${keyPrefix}{${partition}}:`;
  const budget = (partition: string, id: string): [string, string] => [
    `${base(partition)}b:${id}`,
    `${base(partition)}bz:${id}`,
  ];
  return {
    clock: (partition) => `${base(partition)}clock`,
    record: (partition, requestId) => `${base(partition)}r:${requestId}`,
    budget,
    budgetChange: (partition, changeId) => `${base(partition)}bx:${changeId}`,
    check(partition, check) {
      switch (check.kind) {
        case 'requests':
          return [`${base(partition)}q:${check.id}`];
        case 'tokens':
          return [`${base(partition)}t:${check.id}`];
        case 'concurrency':
          return [`${base(partition)}c:${check.id}`];
        case 'budget':
          return budget(partition, check.id);
      }
    },
  };
}

/** The three words of one check in the admit script's check spec (see the admit script). */
export function checkArguments(check: LimitCheck): [string, string, string] {
  switch (check.kind) {
    case 'requests':
      return ['q', String(check.ratePerMinute), String(check.burst)];
    case 'tokens':
      return ['t', String(check.tokensPerMinute), String(check.burst)];
    case 'concurrency':
      return ['c', String(check.max), '-'];
    case 'budget':
      return ['b', String(check.limitMicros), check.period];
  }
}
