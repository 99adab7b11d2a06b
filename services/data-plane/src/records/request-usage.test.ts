import { describe, expect, it } from 'vitest';
import { settlementUsage } from '../admission/admission-costs.js';
import { createRequestState } from '../inference/request-state.js';
import { startRequestUsage } from './request-usage.js';
import type { UsageRecordInit } from './usage-recorder.js';

// The usage record's cost must equal what settlement charges the budget, or the usage stream and the
// budget store disagree. Prices: 1,000,000 micros per million tokens in and out = 1 micro per token.
const price = { inputMicrosPerMillion: 1_000_000, outputMicrosPerMillion: 1_000_000 };

function recordFor(
  setup: (state: ReturnType<typeof createRequestState>) => void,
  servingPrice: typeof price = price,
): Promise<UsageRecordInit> {
  const records: UsageRecordInit[] = [];
  const state = createRequestState(0);
  setup(state);
  const usage = startRequestUsage(
    {
      records: { usage: { record: (init) => Promise.resolve(void records.push(init)) } },
      clock: { now: () => 1_000 },
      now: () => 10,
    },
    {
      requestId: 'req-1',
      model: 'demo-chat',
      streamed: true,
      policy: { priceFor: () => servingPrice },
      state,
      reservedCostMicros: 777,
    },
  );
  return usage.record(200).then(() => records[0]!);
}

describe('request usage record cost', () => {
  it('prices the reported usage at the serving backend', async () => {
    const record = await recordFor((state) => {
      state.responded = true;
      state.backendId = 'mock-a';
      state.usage = { inputTokens: 10, outputTokens: 5 };
    });
    expect(record.costMicros).toBe(15);
  });

  it('carries the reserved cost when a backend answered but reported no usage (what settlement charges)', async () => {
    const record = await recordFor((state) => {
      state.responded = true;
      state.backendId = 'mock-a';
    });
    expect(record.costMicros).toBe(777);
  });

  it('carries what settlement charges when a backend reports an absurd usage', async () => {
    // A broken backend's count: priced as reported it is beyond 2^53 micros. Settlement caps it as the stores
    // do; the record must say the same (and be written at all: the request has no other record).
    const usage = { inputTokens: Number.MAX_SAFE_INTEGER, outputTokens: 0 };
    const expensive = { inputMicrosPerMillion: 2_000_000, outputMicrosPerMillion: 2_000_000 };
    const record = await recordFor((state) => {
      state.responded = true;
      state.backendId = 'mock-a';
      state.usage = usage;
    }, expensive);
    const settled = settlementUsage({ priceFor: () => expensive }, 'demo-chat', 'mock-a', usage, {
      tokens: 1,
      costMicros: 777,
    });
    expect(record.costMicros).toBe(settled.costMicros);
  });

  it('costs nothing when no backend answered (the reservation is released)', async () => {
    const record = await recordFor(() => undefined);
    expect(record.costMicros).toBe(0);
  });
});
