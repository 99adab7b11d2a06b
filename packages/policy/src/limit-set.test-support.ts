// LimitSet builders shared by the limit plan tests (excluded from the build).
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  BudgetFailureMode,
  BudgetPeriod,
  BudgetSchema,
  LimitSetSchema,
  RateLimitFailureMode,
  type LimitSet,
} from '@api-router/contracts';

export { BudgetFailureMode, BudgetPeriod, RateLimitFailureMode };

/** A LimitSet with only the given fields set (protobuf defaults elsewhere). */
export function limitSet(init: MessageInitShape<typeof LimitSetSchema>): LimitSet {
  return create(LimitSetSchema, init);
}

export function budget(id: string, limitMicros: bigint, period = BudgetPeriod.DAY) {
  return create(BudgetSchema, { id, limitMicros, period });
}
