import { MAX_MICROS } from '../math/budget-ledger.js';
import { GC_GRACE_MS, LUA_LIBRARY } from './lua-library.js';

/**
 * Reads or changes one budget (the memory twin is the admin half of `src/memory/memory-limit-store.ts` and
 * `src/memory/memory-budget-changes.ts`).
 *
 * KEYS: partition clock, budget hash, budget reservations, [change marker — only with a change id].
 * ARGV: nowOverride|'', op ('get' | 'topup' | 'reset' | 'limit' | 'abandon'), amountMicros (limit: -1 clears
 *       the override), changeId ('' for `get` only: the TS side refuses a change without one), change
 *       retention ms.
 * Reply: { 0 } for `get` of an unknown budget;
 *        { 1, period ('' = unknown), limit, spent, reserved, remaining, periodStart (-1), periodResetAt (-1) }
 *          after a change (or a `get`);
 *        { 2, the same seven numbers as stored when the change id was applied } — already applied;
 *        { 3 } — the change id is remembered for another budget or another op/amount (nothing changed);
 *        { 4 } — the change id is abandoned (nothing changed; `abandon` answers it after abandoning).
 *
 * A change id's marker (a hash beside the budget, same hash tag): s = 'a' (applied, with the numbers after)
 * or 'x' (abandoned), b = the budget's key, o / a = op and amount, u = store time it is honoured until.
 * Whether it is still honoured is decided from `u` and the script's clock (as every expiry here, so a test
 * clock agrees with the memory store); the real TTL only collects it later.
 */
export const BUDGET_ADMIN_SCRIPT = `${LUA_LIBRARY}
local now = partition_now(KEYS[1], ARGV[1])
local op = ARGV[2]
local amount = tonumber(ARGV[3])
local change = ARGV[4]
local change_ttl = tonumber(ARGV[5])
local function remember(fields)
  redis.call('DEL', KEYS[4])
  redis.call('HSET', KEYS[4], 'b', KEYS[2], 'u', fmt(now + change_ttl), unpack(fields))
  redis.call('PEXPIRE', KEYS[4], change_ttl + ${String(GC_GRACE_MS)})
end
if change ~= '' then
  local m = redis.call('HMGET', KEYS[4], 's', 'b', 'o', 'a', 'u', 'pk', 'l', 'sp', 'rs', 'rm', 'ps', 'ra')
  if m[1] and tonumber(m[5]) > now then
    if m[2] ~= KEYS[2] then return { 3 } end
    if m[1] == 'x' then return { 4 } end
    if op ~= 'abandon' and (m[3] ~= op or m[4] ~= ARGV[3]) then return { 3 } end
    return { 2, m[6], m[7], m[8], m[9], m[10], m[11], m[12] }
  end
  if op == 'abandon' then
    remember({ 's', 'x' })
    return { 4 }
  end
end
local b, exists = budget_load(KEYS[2])
if not exists and op == 'get' then return { 0 } end
budget_roll(b, nil, nil, now)
budget_reclaim(b, KEYS[3], now)
if op == 'topup' then
  -- Capped (memory-limit-store.ts updateOf): every budget number stays below 2 * 10^15, exact in doubles.
  b.cr = math.min(b.cr + amount, ${String(MAX_MICROS)})
elseif op == 'reset' then
  b.sp = 0
  b.cr = 0
elseif op == 'limit' then
  b.lo = amount
end
budget_save(KEYS[2], b)
local reply = { 1, b.pk, budget_limit(b), b.sp, b.rs, math.max(0, budget_available(b)), b.ps, budget_reset_at(b) or -1 }
if change ~= '' then
  remember({ 's', 'a', 'o', op, 'a', ARGV[3], 'pk', b.pk, 'l', fmt(reply[3]), 'sp', fmt(reply[4]),
    'rs', fmt(reply[5]), 'rm', fmt(reply[6]), 'ps', fmt(reply[7]), 'ra', fmt(reply[8]) })
end
return reply
`;
