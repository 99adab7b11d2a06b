import type { LimitPlan } from '@api-router/limits';
import {
  buildLimitPlan,
  ownerCheckId,
  planForStoreFailure,
  resolveQueuePolicy,
  type LimitOwners,
  type ResolvedQueuePolicy,
  type RuntimePolicy,
  type StoreFailurePlan,
} from '@api-router/policy';
import type { Principal } from '../auth/principal.js';
import type { HeaderOwners } from './rate-limit-headers.js';

/** Everything admission derives from the policy for one key, computed once per policy and key. */
export interface KeyLimits {
  readonly owners: LimitOwners;
  readonly plan: LimitPlan;
  /** The plan charges tokens or money, so the request's output must be bounded (see Admission.outputCap). */
  readonly chargesTokens: boolean;
  readonly headerOwners: HeaderOwners;
  readonly queuePolicy: ResolvedQueuePolicy | undefined;
  /** What to do while the shared store is unreachable. */
  readonly storeFailurePlan: StoreFailurePlan;
}

/**
 * Memoizes {@link KeyLimits} per runtime policy (weakly: a replaced policy's entries go with it) and key
 * public id, so the hot path builds no plan per request.
 */
export class LimitPlanCache {
  readonly #byPolicy = new WeakMap<RuntimePolicy, Map<string, KeyLimits>>();

  limitsFor(policy: RuntimePolicy, principal: Principal): KeyLimits {
    let byKey = this.#byPolicy.get(policy);
    if (byKey === undefined) {
      byKey = new Map();
      this.#byPolicy.set(policy, byKey);
    }
    let limits = byKey.get(principal.keyId);
    if (limits === undefined) {
      limits = compute(policy, principal);
      byKey.set(principal.keyId, limits);
    }
    return limits;
  }
}

function compute(policy: RuntimePolicy, principal: Principal): KeyLimits {
  const owners: LimitOwners = {
    tenant: { id: principal.tenantId, limits: policy.limitsForTenant(principal.tenantId) },
    key: { publicId: principal.keyId, limits: policy.limitsForKey(principal.keyId) },
  };
  const plan = buildLimitPlan(owners);
  return {
    owners,
    plan,
    chargesTokens: plan.checks.some((check) => check.kind === 'tokens' || check.kind === 'budget'),
    headerOwners: {
      keyCheckId: ownerCheckId({ kind: 'key', publicId: principal.keyId }),
      tenantCheckId: ownerCheckId({ kind: 'tenant', tenantId: principal.tenantId }),
    },
    queuePolicy: resolveQueuePolicy(owners),
    storeFailurePlan: planForStoreFailure(owners),
  };
}
