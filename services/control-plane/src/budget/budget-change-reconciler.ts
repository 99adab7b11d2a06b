import { randomUUID } from 'node:crypto';
import { BudgetChangeConflictError, type BudgetChangeStore } from '@api-router/limits';
import type { Logger } from 'pino';
import type { AdminChange, AdminChangeLog } from '../audit/admin-change-log.js';
import type { Clock } from '../clock.js';
import { PeriodicPass } from '../periodic-pass.js';
import {
  budgetChangeOutcomeEvent,
  readBudgetChangeIntent,
  type BudgetChangeOutcome,
} from './budget-change-event.js';
import { decidableForMs, type BudgetChangeSettings } from './budget-change-settings.js';
import { numbersOfSnapshot } from './budget-numbers.js';
import type { BudgetReconcileMetrics } from './budget-reconcile-metrics.js';

export interface BudgetChangeReconcilerDeps {
  changeLog: Pick<AdminChangeLog, 'openChanges' | 'recordOutcome'>;
  store: Pick<BudgetChangeStore, 'abandonBudgetChange'>;
  clock: Clock;
  logger: Logger;
  metrics: BudgetReconcileMetrics;
  settings: BudgetChangeSettings;
  /** Event ids; random UUIDs by default. */
  newEventId?: () => string;
}

/** What one pass did. */
export interface ReconcilePass {
  /** Open changes older than the grace period that the pass looked at. */
  examined: number;
  /** Outcomes this pass stored (the rest were stored first by another control plane or by the call). */
  recorded: number;
  /** The pass stopped early: Redis or the audit store failed (the next pass retries). */
  failed: boolean;
}

/**
 * Records the missing outcome of budget changes whose call stopped between its intent and its outcome (the
 * control plane died, Redis or the audit store failed). A pass takes the oldest open changes whose intent
 * is older than the grace period (at most `maxChangesPerPass`) and settles each in Redis with
 * `abandonBudgetChange`: if the change id was applied, the outcome is `applied` (with the numbers right
 * after it); otherwise Redis now records it as abandoned — an application still in flight will change
 * nothing — and the outcome is `not_applied` ("the operator may retry"). The reconciler never applies a
 * change itself. A change older than Redis remembers change ids for (decidableForMs) is recorded `unknown`.
 *
 * Several control planes may reconcile at once: Redis answers each the same, and the audit store keeps the
 * first outcome only. Passes run at start and every `intervalMs`, one at a time.
 *
 * States: `idle` → start() → `running` → close() → `closed`.
 */
export class BudgetChangeReconciler {
  readonly #deps: BudgetChangeReconcilerDeps;
  readonly #newEventId: () => string;
  readonly #passes: PeriodicPass;

  constructor(deps: BudgetChangeReconcilerDeps) {
    this.#deps = deps;
    this.#newEventId = deps.newEventId ?? randomUUID;
    this.#passes = new PeriodicPass(() => this.reconcileOnce(), deps.settings.intervalMs);
  }

  state(): 'idle' | 'running' | 'closed' {
    return this.#passes.state();
  }

  /** Runs a pass now, then one every `intervalMs` until close(). */
  start(): void {
    this.#passes.start();
  }

  /** Stops the passes; resolves once a pass in progress has finished. */
  close(): Promise<void> {
    return this.#passes.close();
  }

  /** One pass (see the class comment). Never rejects: a failure ends the pass and is logged and counted. */
  async reconcileOnce(): Promise<ReconcilePass> {
    const { changeLog, clock, logger, metrics, settings } = this.#deps;
    const pass: ReconcilePass = { examined: 0, recorded: 0, failed: false };
    try {
      const open = await changeLog.openChanges(clock.now() - settings.graceMs, settings.maxChangesPerPass);
      for (const change of open) {
        pass.examined += 1;
        const outcome = await this.#settle(change);
        const event = budgetChangeOutcomeEvent(change.intent, outcome, this.#newEventId(), clock.now());
        const recorded = await changeLog.recordOutcome(change.changeId, event, clock.now());
        if (!recorded.stored) continue;
        pass.recorded += 1;
        metrics.reconciled.inc({ outcome: outcome.phase });
        logger.warn(
          {
            changeId: change.changeId,
            intentEventId: change.intent.eventId,
            outcome: outcome.phase,
            reason: outcome.phase === 'applied' ? undefined : outcome.reason,
            actor: change.intent.actor,
          },
          `budget change reconciled: ${event.message}`,
        );
      }
    } catch (error: unknown) {
      pass.failed = true;
      metrics.failures.inc();
      logger.warn({ err: error }, 'budget change reconciliation pass failed; the next pass retries');
    }
    return pass;
  }

  /** The outcome of an open change, from Redis (which, from now on, never applies it if it had not). */
  async #settle(change: AdminChange): Promise<BudgetChangeOutcome> {
    const unknown = (reason: string): BudgetChangeOutcome => ({
      phase: 'unknown',
      reason,
      recordedBy: 'reconciler',
    });
    const recorded = readBudgetChangeIntent(change.intent);
    if (recorded === undefined || recorded.changeId !== change.changeId) return unknown('unreadable_intent');
    if (this.#deps.clock.now() - change.intentStoredAtMs >= decidableForMs(this.#deps.settings)) {
      return unknown('change_record_expired');
    }
    const ref = { partition: recorded.tenantId, id: recorded.budgetId };
    try {
      const fate = await this.#deps.store.abandonBudgetChange(ref, change.changeId);
      return fate.status === 'already-applied'
        ? { phase: 'applied', after: numbersOfSnapshot(fate.budget), recordedBy: 'reconciler' }
        : { phase: 'not_applied', reason: 'abandoned', recordedBy: 'reconciler' };
    } catch (error: unknown) {
      // Both are final answers about this change (not outages): Redis holds the id for another change, or
      // the intent names a budget no store could hold. Anything else (Redis down) ends the pass.
      if (error instanceof BudgetChangeConflictError) return unknown('change_id_conflict');
      if (error instanceof RangeError) return unknown('unreadable_intent');
      throw error;
    }
  }
}
