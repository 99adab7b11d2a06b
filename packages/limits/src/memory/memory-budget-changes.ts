import { budgetChangeAmount, type BudgetChange } from '../budget-change-store.js';
import type { BudgetSnapshot } from '../limit-store.js';
import type { PartitionClock } from '../partition-clock.js';

/** What the store remembers of a change id: applied (with the numbers right after) or abandoned. */
type ChangeMarker =
  | {
      readonly status: 'applied';
      readonly partition: string;
      readonly budgetId: string;
      readonly operation: BudgetChange['operation'];
      readonly amount: number;
      readonly budget: BudgetSnapshot;
      readonly untilMs: number;
    }
  | {
      readonly status: 'abandoned';
      readonly partition: string;
      readonly budgetId: string;
      readonly untilMs: number;
    };

/** How a remembered change id answers a new call with it (the budget admin script's replies 2, 3, 4). */
export type RememberedChange =
  | { readonly status: 'already-applied'; readonly budget: BudgetSnapshot }
  | { readonly status: 'conflict' }
  | { readonly status: 'abandoned' };

/**
 * The memory store's twin of the change markers of `redis/budget-admin-script.ts`: same checks, same order,
 * same expiry (a marker is honoured while `untilMs > now`, by the partition's clock).
 */
export interface MemoryBudgetChanges {
  /**
   * How a change id still remembered answers (`change` undefined: an abandon, which does not compare the
   * operation); undefined when it is not remembered.
   */
  lookup(
    partition: string,
    budgetId: string,
    changeId: string,
    change: BudgetChange | undefined,
    nowMs: number,
  ): RememberedChange | undefined;
  rememberApplied(
    partition: string,
    budgetId: string,
    changeId: string,
    change: BudgetChange,
    budget: BudgetSnapshot,
    nowMs: number,
  ): void;
  rememberAbandoned(partition: string, budgetId: string, changeId: string, nowMs: number): void;
}

const MIN_SWEEP_SIZE = 1024;

export function createMemoryBudgetChanges(retentionMs: number, clock: PartitionClock): MemoryBudgetChanges {
  const markers = new Map<string, ChangeMarker>();
  let sweepAtSize = MIN_SWEEP_SIZE;
  const key = (partition: string, changeId: string): string => `${partition}\u0000${changeId}`;

  /** Forgets expired markers whenever the map has doubled since the last sweep (as the records sweep). */
  function sweep(): void {
    if (markers.size < sweepAtSize) return;
    for (const [markerKey, marker] of markers) {
      if (marker.untilMs <= clock.latest(marker.partition)) markers.delete(markerKey);
    }
    sweepAtSize = Math.max(MIN_SWEEP_SIZE, markers.size * 2);
  }

  function remember(partition: string, changeId: string, marker: ChangeMarker): void {
    markers.set(key(partition, changeId), marker);
    sweep();
  }

  return {
    lookup(partition, budgetId, changeId, change, nowMs) {
      const marker = markers.get(key(partition, changeId));
      if (marker === undefined || marker.untilMs <= nowMs) return undefined;
      if (marker.budgetId !== budgetId) return { status: 'conflict' };
      if (marker.status === 'abandoned') return { status: 'abandoned' };
      if (
        change !== undefined &&
        (marker.operation !== change.operation || marker.amount !== budgetChangeAmount(change))
      ) {
        return { status: 'conflict' };
      }
      return { status: 'already-applied', budget: marker.budget };
    },
    rememberApplied(partition, budgetId, changeId, change, budget, nowMs) {
      remember(partition, changeId, {
        status: 'applied',
        partition,
        budgetId,
        operation: change.operation,
        amount: budgetChangeAmount(change),
        budget,
        untilMs: nowMs + retentionMs,
      });
    },
    rememberAbandoned(partition, budgetId, changeId, nowMs) {
      remember(partition, changeId, {
        status: 'abandoned',
        partition,
        budgetId,
        untilMs: nowMs + retentionMs,
      });
    },
  };
}
