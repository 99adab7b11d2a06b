import { LUA_LIBRARY } from './lua-library.js';

/**
 * Reads or changes one budget (the memory twin is the admin half of `src/memory/memory-limit-store.ts`).
 *
 * KEYS: partition clock, budget hash, budget reservations.
 * ARGV: nowOverride|'', op ('get' | 'topup' | 'reset' | 'limit'), amountMicros (limit: -1 clears the override).
 * Reply: { 0 } for `get` of an unknown budget; otherwise
 *        { 1, period ('' = unknown), limit, spent, reserved, remaining, periodStart (-1), periodResetAt (-1) }.
 */
export const BUDGET_ADMIN_SCRIPT = `${LUA_LIBRARY}
local now = partition_now(KEYS[1], ARGV[1])
local op = ARGV[2]
local amount = tonumber(ARGV[3])
local b, exists = budget_load(KEYS[2])
if not exists and op == 'get' then return { 0 } end
budget_roll(b, nil, nil, now)
budget_reclaim(b, KEYS[3], now)
if op == 'topup' then
  b.cr = b.cr + amount
elseif op == 'reset' then
  b.sp = 0
  b.cr = 0
elseif op == 'limit' then
  b.lo = amount
end
budget_save(KEYS[2], b)
return { 1, b.pk, budget_limit(b), b.sp, b.rs, math.max(0, budget_available(b)), b.ps, budget_reset_at(b) or -1 }
`;
