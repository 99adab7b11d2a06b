import { LUA_LIBRARY } from './lua-library.js';

/**
 * One admission in one round trip: every check evaluated, then all committed or none (the memory twin is
 * `src/memory/memory-admission.ts` + `memory-limit-store.ts`).
 *
 * KEYS: partition clock, record, then per check its keys in plan order (bucket: 1; slots: 1; budget: hash, reservations).
 * ARGV: nowOverride|'', requestId, tokens, costMicros, ttlMs, retentionMs, checkCount, checkSpec.
 *       checkSpec: one string, per check three space-separated words in plan order: kind ('q' requests,
 *       't' tokens, 'c' concurrency, 'b' budget), a, b (q/t: rate, burst; c: max, '-'; b: limitMicros,
 *       period) — the plan's constant part in one argument (cheaper to send than 3 per check).
 * Reply: { 2, now } for a duplicate request id; otherwise { allowed 1|0, now, then per check:
 *         allowed 1|0, limit, remaining, resetAt (-1 = none), retryAfter (-1 = never) }.
 */
export const ADMIT_SCRIPT = `${LUA_LIBRARY}
local now = partition_now(KEYS[1], ARGV[1])
local request_id = ARGV[2]
local tokens = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local retention = tonumber(ARGV[6])
local count = tonumber(ARGV[7])
local record_key = KEYS[2]
local spec = {}
for word in string.gmatch(ARGV[8], '%S+') do spec[#spec + 1] = word end

local retain_until = redis.call('HGET', record_key, 'ru')
if retain_until and tonumber(retain_until) > now then return { 2, now } end

local checks = {}
local all_allowed = true
local key_index = 3
for i = 1, count do
  local base = 1 + (i - 1) * 3
  local c = { kind = spec[base], a = tonumber(spec[base + 1]), key = KEYS[key_index] }
  key_index = key_index + 1
  if c.kind == 'q' or c.kind == 't' then
    c.burst = tonumber(spec[base + 2])
    c.cost = tokens
    if c.kind == 'q' then c.cost = 1 end
    c.level, c.updated = bucket_refill(c.key, c.a, c.burst, now)
    c.allowed, c.retry = bucket_evaluate(c.level, c.cost, c.a, c.burst)
  elseif c.kind == 'c' then
    c.active, c.earliest = slots_load(c.key, now)
    c.allowed, c.retry = slots_evaluate(c.active, c.a, c.earliest, now)
  else
    c.zkey = KEYS[key_index]
    key_index = key_index + 1
    c.budget = budget_load(c.key)
    budget_roll(c.budget, c.a, spec[base + 2], now)
    budget_reclaim(c.budget, c.zkey, now)
    c.allowed, c.retry = budget_evaluate(c.budget, cost, now)
  end
  if not c.allowed then all_allowed = false end
  checks[i] = c
end

local expires = now + ttl
local reply = { 0, now }
if all_allowed then reply[1] = 1 end
for i = 1, count do
  local c = checks[i]
  local limit, remaining, reset_at
  if c.kind == 'q' or c.kind == 't' then
    if all_allowed then c.level = bucket_adjust(c.level, -c.cost, c.burst) end
    bucket_save(c.key, c.level, c.updated, c.a, c.burst)
    limit = c.a
    remaining = bucket_remaining(c.level)
    reset_at = bucket_reset_at(c.level, c.a, c.burst, now)
  elseif c.kind == 'c' then
    if all_allowed then
      redis.call('ZADD', c.key, fmt(expires), request_id)
      redis.call('PEXPIRE', c.key, fmt(ttl + GC_GRACE_MS))
      c.active = c.active + 1
      if c.earliest == nil then c.earliest = expires else c.earliest = math.min(c.earliest, expires) end
    end
    limit = c.a
    remaining = math.max(0, c.a - c.active)
    reset_at = slots_reset_at(c.earliest, now)
  else
    if all_allowed then
      redis.call('ZADD', c.zkey, fmt(expires), reservation_member(cost, request_id))
      c.budget.rs = c.budget.rs + cost
    end
    budget_save(c.key, c.budget)
    limit = budget_limit(c.budget)
    remaining = math.max(0, budget_available(c.budget))
    reset_at = budget_reset_at(c.budget) or -1
  end
  local allowed = 0
  if c.allowed then allowed = 1 end
  reply[#reply + 1] = allowed
  reply[#reply + 1] = limit
  reply[#reply + 1] = remaining
  reply[#reply + 1] = reset_at
  reply[#reply + 1] = c.retry
end

if all_allowed then
  local retain = expires + retention
  redis.call('HSET', record_key, 'st', 'r', 'ex', fmt(expires), 'ru', fmt(retain), 'tk', fmt(tokens), 'cm', fmt(cost))
  redis.call('PEXPIRE', record_key, fmt(retain - now + record_grace(ARGV[1])))
end
return reply
`;
