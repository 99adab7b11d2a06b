import {
  emptyBudget,
  pickExpiredReservations,
  rollBudget,
  type BudgetPlan,
  type BudgetState,
  type ReservationEntry,
} from '../math/budget-ledger.js';
import { createPartitionClock, type PartitionClock } from '../partition-clock.js';
import { refillBucket, type BucketLimits, type BucketState } from '../math/token-bucket.js';

export type BucketKind = 'requests' | 'tokens';

export interface MemoryBudget {
  state: BudgetState;
  /** Live reservations by their member string (see reservationMember). */
  readonly reservations: Map<string, ReservationEntry>;
}

export interface MemoryRecord {
  readonly partition: string;
  status: 'reserved' | 'settled' | 'released';
  readonly expiresAtMs: number;
  retainUntilMs: number;
  readonly tokens: number;
  readonly costMicros: number;
}

export interface MemoryLeases {
  readonly leases: Map<string, number>;
  readonly earliestExpiryMs: number | null;
}

/**
 * The in-process state behind createMemoryLimitStore, with the lazy maintenance each access does first
 * (refill, period roll, reclaim of expired reservations and leases) exactly as the Redis scripts do it.
 */
export interface MemoryLimitState {
  readonly clock: PartitionClock;
  /** The bucket refilled to `nowMs` under `limits` (and stored so, with the limits). */
  bucket(kind: BucketKind, partition: string, id: string, limits: BucketLimits, nowMs: number): BucketState;
  /** The limits the bucket was last refilled under (its latest admission's policy); undefined when none. */
  bucketLimits(kind: BucketKind, partition: string, id: string): BucketLimits | undefined;
  setBucket(kind: BucketKind, partition: string, id: string, state: BucketState): void;
  /** The live leases of a concurrency check, expired ones dropped. */
  leases(partition: string, id: string, nowMs: number): MemoryLeases;
  /** The budget (created empty when missing) rolled and reclaimed at `nowMs`. */
  budget(partition: string, id: string, plan: BudgetPlan | undefined, nowMs: number): MemoryBudget;
  /** Like `budget`, but `undefined` instead of creating a missing budget. */
  existingBudget(partition: string, id: string, nowMs: number): MemoryBudget | undefined;
  /** A request record still within its retention; forgotten ones read as missing. */
  record(partition: string, requestId: string, nowMs: number): MemoryRecord | undefined;
  setRecord(partition: string, requestId: string, record: MemoryRecord): void;
  /**
   * Forgets the records past their retention by their partition's clock, whenever the record map has doubled
   * since the last sweep (amortised garbage collection; invisible to callers because a partition's clock
   * never goes back, so a forgotten record could never be read again anyway).
   */
  sweepRecords(): void;
}

const MIN_SWEEP_SIZE = 1024;

export function createMemoryLimitState(): MemoryLimitState {
  const buckets = new Map<string, BucketState>();
  const limitsByBucket = new Map<string, BucketLimits>();
  const leasesByCheck = new Map<string, Map<string, number>>();
  const budgets = new Map<string, MemoryBudget>();
  const records = new Map<string, MemoryRecord>();
  const clock = createPartitionClock();
  let sweepAtSize = MIN_SWEEP_SIZE;
  const key = (...parts: string[]): string => parts.join('\u0000');

  function reclaimReservations(budget: MemoryBudget, nowMs: number): void {
    let reservedMicros = budget.state.reservedMicros;
    for (const entry of pickExpiredReservations(budget.reservations.values(), nowMs)) {
      reservedMicros -= entry.amountMicros;
      budget.reservations.delete(entry.member);
    }
    budget.state = { ...budget.state, reservedMicros };
  }

  function budget(partition: string, id: string, plan: BudgetPlan | undefined, nowMs: number): MemoryBudget {
    const budgetKey = key(partition, id);
    let found = budgets.get(budgetKey);
    if (found === undefined) {
      found = { state: emptyBudget(), reservations: new Map() };
      budgets.set(budgetKey, found);
    }
    found.state = rollBudget(found.state, plan, nowMs);
    reclaimReservations(found, nowMs);
    return found;
  }

  return {
    clock,
    bucket(kind, partition, id, limits, nowMs) {
      const bucketKey = key(kind, partition, id);
      const state = refillBucket(buckets.get(bucketKey), limits, nowMs);
      buckets.set(bucketKey, state);
      limitsByBucket.set(bucketKey, limits);
      return state;
    },
    bucketLimits(kind, partition, id) {
      return limitsByBucket.get(key(kind, partition, id));
    },
    setBucket(kind, partition, id, state) {
      buckets.set(key(kind, partition, id), state);
    },
    leases(partition, id, nowMs) {
      const leasesKey = key(partition, id);
      let leases = leasesByCheck.get(leasesKey);
      if (leases === undefined) {
        leases = new Map();
        leasesByCheck.set(leasesKey, leases);
      }
      let earliestExpiryMs: number | null = null;
      for (const [requestId, expiresAtMs] of leases) {
        if (expiresAtMs <= nowMs) leases.delete(requestId);
        else if (earliestExpiryMs === null || expiresAtMs < earliestExpiryMs) earliestExpiryMs = expiresAtMs;
      }
      return { leases, earliestExpiryMs };
    },
    budget,
    existingBudget(partition, id, nowMs) {
      return budgets.has(key(partition, id)) ? budget(partition, id, undefined, nowMs) : undefined;
    },
    record(partition, requestId, nowMs) {
      const record = records.get(key(partition, requestId));
      return record !== undefined && record.retainUntilMs > nowMs ? record : undefined;
    },
    setRecord(partition, requestId, record) {
      records.set(key(partition, requestId), record);
    },
    sweepRecords() {
      if (records.size < sweepAtSize) return;
      for (const [recordKey, record] of records) {
        if (record.retainUntilMs <= clock.latest(record.partition)) records.delete(recordKey);
      }
      // Sweep again when the map has doubled: amortised O(1) per record, at most twice the live records held.
      sweepAtSize = Math.max(MIN_SWEEP_SIZE, records.size * 2);
    },
  };
}
