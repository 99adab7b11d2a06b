import { LUA_LIBRARY } from './lua-library.js';

/**
 * Settles or releases one reservation in one round trip (the memory twin is
 * `src/memory/memory-settlement.ts`). The reserved amounts come from the request record, never from the
 * caller, so a wrong reservation object cannot refund more than was taken.
 *
 * KEYS: partition clock, record, then the keys of the admission's token, concurrency and budget checks in
 *       plan order (as for admit; request-count checks are left out: a settled or released request keeps its
 *       request unit).
 * ARGV: nowOverride|'', requestId, mode ('s' settle, 'x' release), tokens, costMicros, retentionMs,
 *       checkCount (of those checks), checkSpec: one string, per check in plan order its kind and, for 't'
 *       only, rate and burst, space-separated: 't rate burst' | 'c' | 'b'. A bucket's own stored limits
 *       (its latest admission's) win over the reservation's rate and burst, which serve a bucket that has
 *       none. The reserved amounts come from the record.
 * Reply: { status (0 unknown, 1 done, 2 already settled, 3 already released), expired 1|0 }.
 */
export const END_SCRIPT = `${LUA_LIBRARY}
local now = partition_now(KEYS[1], ARGV[1])
local request_id = ARGV[2]
local settling = ARGV[3] == 's'
local actual_tokens = tonumber(ARGV[4])
local actual_cost = tonumber(ARGV[5])
local retention = tonumber(ARGV[6])
local count = tonumber(ARGV[7])
local record_key = KEYS[2]

local record = redis.call('HMGET', record_key, 'st', 'ex', 'ru', 'tk', 'cm')
if not record[1] or tonumber(record[3]) <= now then return { 0, 0 } end
if record[1] == 's' then return { 2, 0 } end
if record[1] == 'x' then return { 3, 0 } end
local reserved_tokens = tonumber(record[4])
local reserved_cost = tonumber(record[5])
if not settling then
  actual_tokens = 0
  actual_cost = 0
end

local spec = {}
for word in string.gmatch(ARGV[8], '%S+') do spec[#spec + 1] = word end
local key_index = 3
local spec_index = 1
for i = 1, count do
  local kind = spec[spec_index]
  spec_index = spec_index + 1
  local key = KEYS[key_index]
  key_index = key_index + 1
  if kind == 't' then
    -- The bucket's latest limits (the policy in force), not the reservation's (memory-settlement.ts).
    local a, burst = bucket_limits(key, tonumber(spec[spec_index]), tonumber(spec[spec_index + 1]))
    spec_index = spec_index + 2
    local level, updated = bucket_refill(key, a, burst, now)
    level = bucket_adjust(level, reserved_tokens - actual_tokens, burst)
    bucket_save(key, level, updated, a, burst)
  elseif kind == 'c' then
    slots_load(key, now)
    redis.call('ZREM', key, request_id)
  elseif kind == 'b' then
    local zkey = KEYS[key_index]
    key_index = key_index + 1
    local b = budget_load(key)
    budget_roll(b, nil, nil, now)
    budget_reclaim(b, zkey, now)
    -- Reclaim may already have dropped an expired reservation (and its amount); then only the spend remains.
    if redis.call('ZREM', zkey, reservation_member(reserved_cost, request_id)) == 1 then
      b.rs = b.rs - reserved_cost
    end
    b.sp = b.sp + actual_cost
    budget_save(key, b)
  end
end

local status = 'x'
if settling then status = 's' end
redis.call('HSET', record_key, 'st', status, 'ru', fmt(now + retention))
redis.call('PEXPIRE', record_key, fmt(retention + record_grace(ARGV[1])))
local expired = 0
if tonumber(record[2]) <= now then expired = 1 end
return { 1, expired }
`;
