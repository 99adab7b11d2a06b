import { validatePlan, type LimitCheck } from '../limit-plan.js';
import { checkArguments, type RedisKeys } from './redis-keys.js';
import { EncodedGroup } from './script-arguments.js';

/**
 * The per-plan part of the admit and end scripts' KEYS and ARGV (see admit-script.ts, end-script.ts): the
 * same for every request of one plan, so it is built once and only the request's own values are filled in
 * per call.
 */
export interface PlanEncoding {
  /** The record key of a request is this + its request id. */
  readonly recordKeyPrefix: string;
  /** Admit: numkeys and the partition's clock key, the arguments before the record key. */
  readonly admitHead: EncodedGroup;
  /** Every check's keys in plan order. */
  readonly admitKeys: EncodedGroup;
  /**
   * Admit: the number of plan checks (the reply has one result per check) and the check spec, every
   * check's three words in plan order; the last arguments.
   */
  readonly admitTail: EncodedGroup;
  /** End: numkeys and the clock key. */
  readonly endHead: EncodedGroup;
  /** The keys the end script touches: token buckets, concurrency slots, budgets (request counts never). */
  readonly endKeys: EncodedGroup;
  /**
   * End: the number of checks it visits and its check spec, `t rate burst`, `c` or `b` per check (it reads
   * nothing else of the plan).
   */
  readonly endTail: EncodedGroup;
}

function encode(keys: RedisKeys, partition: string, checks: readonly LimitCheck[]): PlanEncoding {
  const admitKeys: string[] = [];
  const admitWords: string[] = [];
  const endKeys: string[] = [];
  const endWords: string[] = [];
  let endCount = 0;
  for (const check of checks) {
    const checkKeys = keys.check(partition, check);
    admitKeys.push(...checkKeys);
    admitWords.push(...checkArguments(check));
    switch (check.kind) {
      case 'requests':
        // A settled or released request keeps its request unit: the end script has nothing to do.
        continue;
      case 'tokens':
        endWords.push('t', String(check.tokensPerMinute), String(check.burst));
        break;
      case 'concurrency':
        endWords.push('c');
        break;
      case 'budget':
        endWords.push('b');
        break;
    }
    endKeys.push(...checkKeys);
    endCount += 1;
  }
  const clockKey = keys.clock(partition);
  // numkeys counts the clock and record keys besides the checks'.
  return {
    recordKeyPrefix: keys.record(partition, ''),
    admitHead: new EncodedGroup([2 + admitKeys.length, clockKey]),
    admitKeys: new EncodedGroup(admitKeys),
    admitTail: new EncodedGroup([checks.length, admitWords.join(' ')]),
    endHead: new EncodedGroup([2 + endKeys.length, clockKey]),
    endKeys: new EncodedGroup(endKeys),
    endTail: new EncodedGroup([endCount, endWords.join(' ')]),
  };
}

/**
 * Plan encodings memoized by the identity of the checks array (weakly: a dropped plan's entry goes with it)
 * and the partition. The data plane builds one plan per policy version and key and passes the same object
 * for every admission, and a reservation carries that plan's checks array back for settlement, so both
 * scripts' plan arguments are built once per plan. A plan is validated when it is first encoded; plans are
 * treated as immutable, as their readonly types say: one changed after its first use would keep its old
 * encoding.
 */
export class PlanEncodings {
  readonly #keys: RedisKeys;
  readonly #byChecks = new WeakMap<readonly LimitCheck[], Map<string, PlanEncoding>>();

  constructor(keys: RedisKeys) {
    this.#keys = keys;
  }

  /** Throws a RangeError (validatePlan) for a malformed plan; nothing is cached then. */
  get(partition: string, checks: readonly LimitCheck[]): PlanEncoding {
    let byPartition = this.#byChecks.get(checks);
    let encoding = byPartition?.get(partition);
    if (encoding !== undefined) return encoding;
    validatePlan({ partition, checks });
    encoding = encode(this.#keys, partition, checks);
    if (byPartition === undefined) {
      byPartition = new Map();
      this.#byChecks.set(checks, byPartition);
    }
    byPartition.set(partition, encoding);
    return encoding;
  }
}
