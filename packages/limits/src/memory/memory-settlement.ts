import type { LimitCheck } from '../limit-plan.js';
import type { Reservation, SettleOutcome, Usage } from '../limit-store.js';
import { reservationMember } from '../math/budget-ledger.js';
import { adjustBucketLevel } from '../math/token-bucket.js';
import type { MemoryLimitState, MemoryRecord } from './memory-limit-state.js';

/** What ends a reservation: a settlement with the real usage, or a release (`undefined`: nothing was used). */
export type Ending = Usage | undefined;

function endCheck(
  state: MemoryLimitState,
  check: LimitCheck,
  reservation: Reservation,
  record: MemoryRecord,
  ending: Ending,
  nowMs: number,
): void {
  const partition = reservation.partition;
  switch (check.kind) {
    case 'requests':
      // The request happened either way: its unit stays spent.
      return;
    case 'tokens': {
      // The bucket's latest limits (the policy in force), not the ones captured in the reservation: a
      // request admitted under an older policy must neither refill the bucket at the old rate nor cut it to
      // the old burst (lua-library.ts bucket_limits).
      const limits = state.bucketLimits('tokens', partition, check.id) ?? {
        ratePerMinute: check.tokensPerMinute,
        burst: check.burst,
      };
      const bucket = state.bucket('tokens', partition, check.id, limits, nowMs);
      const refundUnits = record.tokens - (ending === undefined ? 0 : ending.tokens);
      const levelScaled = adjustBucketLevel(bucket.levelScaled, refundUnits, limits);
      state.setBucket('tokens', partition, check.id, { levelScaled, updatedAtMs: bucket.updatedAtMs });
      return;
    }
    case 'concurrency':
      state.leases(partition, check.id, nowMs).leases.delete(reservation.requestId);
      return;
    case 'budget': {
      const budget = state.budget(partition, check.id, undefined, nowMs);
      const member = reservationMember(record.costMicros, reservation.requestId);
      let { reservedMicros, spentMicros } = budget.state;
      // Reclaim may already have dropped an expired reservation (and its amount); then only the spend remains.
      if (budget.reservations.delete(member)) reservedMicros -= record.costMicros;
      if (ending !== undefined) spentMicros += ending.costMicros;
      budget.state = { ...budget.state, reservedMicros, spentMicros };
      return;
    }
  }
}

/**
 * Settles (`ending` = usage) or releases (`ending` = undefined) a reservation once; later calls report what
 * happened first. A reservation past its expiry still settles: the money was spent, so it is charged.
 */
export function endReservation(
  state: MemoryLimitState,
  reservation: Reservation,
  ending: Ending,
  nowMs: number,
  retentionMs: number,
): SettleOutcome<'done' | 'already-settled' | 'already-released' | 'unknown'> {
  const record = state.record(reservation.partition, reservation.requestId, nowMs);
  if (record === undefined) return { status: 'unknown', reservationExpired: false };
  if (record.status === 'settled') return { status: 'already-settled', reservationExpired: false };
  if (record.status === 'released') return { status: 'already-released', reservationExpired: false };
  for (const check of reservation.checks) endCheck(state, check, reservation, record, ending, nowMs);
  record.status = ending === undefined ? 'released' : 'settled';
  record.retainUntilMs = nowMs + retentionMs;
  return { status: 'done', reservationExpired: record.expiresAtMs <= nowMs };
}
