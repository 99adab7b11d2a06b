import { timestampMs } from '@bufbuild/protobuf/wkt';
import type { BudgetStatus } from '@api-router/contracts';
import type { BudgetSnapshot } from '@api-router/limits';

/**
 * A budget's numbers at one moment, as a change's audit events carry them (`before_*` in the intent,
 * `after_*` in an applied outcome) — enough to answer a replayed call the way the first one was answered.
 */
export interface BudgetNumbers {
  readonly limitMicros: bigint;
  readonly spentMicros: bigint;
  readonly reservedMicros: bigint;
  readonly remainingMicros: bigint;
  /** When the period ends (ms since the epoch); undefined for a `total` budget or an unknown period. */
  readonly periodResetAtMs: number | undefined;
  /** Whether the store has bound the budget to the policy's limit and period yet. */
  readonly policyLimitAdopted: boolean;
}

export function numbersOfStatus(status: BudgetStatus): BudgetNumbers {
  return {
    limitMicros: status.limitMicros,
    spentMicros: status.spentMicros,
    reservedMicros: status.reservedMicros,
    remainingMicros: status.remainingMicros,
    periodResetAtMs: status.periodResetAt === undefined ? undefined : timestampMs(status.periodResetAt),
    policyLimitAdopted: status.policyLimitAdopted,
  };
}

/** The numbers of a store snapshot (what budgetStatus would show for it). */
export function numbersOfSnapshot(snapshot: BudgetSnapshot): BudgetNumbers {
  return {
    limitMicros: BigInt(snapshot.limitMicros),
    spentMicros: BigInt(snapshot.spentMicros),
    reservedMicros: BigInt(snapshot.reservedMicros),
    remainingMicros: BigInt(snapshot.remainingMicros),
    periodResetAtMs: snapshot.periodResetAtMs ?? undefined,
    policyLimitAdopted: snapshot.period !== null,
  };
}

/** Audit attributes `<prefix>_limit_micros`, `…_spent_micros`, `…_reserved_micros`, `…_remaining_micros`, … */
export function numbersAttributes(
  prefix: 'before' | 'after',
  numbers: BudgetNumbers,
): Record<string, string> {
  return {
    [`${prefix}_limit_micros`]: numbers.limitMicros.toString(),
    [`${prefix}_spent_micros`]: numbers.spentMicros.toString(),
    [`${prefix}_reserved_micros`]: numbers.reservedMicros.toString(),
    [`${prefix}_remaining_micros`]: numbers.remainingMicros.toString(),
    ...(numbers.periodResetAtMs === undefined
      ? {}
      : { [`${prefix}_period_reset_at_ms`]: String(numbers.periodResetAtMs) }),
    [`${prefix}_policy_limit_adopted`]: String(numbers.policyLimitAdopted),
  };
}

/** The numbers `numbersAttributes` wrote; undefined when any of the four amounts is missing or not a number. */
export function readNumbersAttributes(
  prefix: 'before' | 'after',
  attributes: Readonly<Record<string, string>>,
): BudgetNumbers | undefined {
  const amount = (name: string): bigint | undefined => {
    const text = attributes[`${prefix}_${name}`];
    return text !== undefined && /^\d+$/.test(text) ? BigInt(text) : undefined;
  };
  const limitMicros = amount('limit_micros');
  const spentMicros = amount('spent_micros');
  const reservedMicros = amount('reserved_micros');
  const remainingMicros = amount('remaining_micros');
  if (
    limitMicros === undefined ||
    spentMicros === undefined ||
    reservedMicros === undefined ||
    remainingMicros === undefined
  ) {
    return undefined;
  }
  const resetAt = amount('period_reset_at_ms');
  return {
    limitMicros,
    spentMicros,
    reservedMicros,
    remainingMicros,
    periodResetAtMs: resetAt === undefined ? undefined : Number(resetAt),
    policyLimitAdopted: attributes[`${prefix}_policy_limit_adopted`] === 'true',
  };
}
