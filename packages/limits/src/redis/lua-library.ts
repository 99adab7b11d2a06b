import { MAX_RESERVATION_TTL_MS } from '../limit-store.js';
import { RECLAIM_BATCH } from '../math/budget-ledger.js';
import { MS_PER_DAY } from '../math/budget-period.js';
import { CONCURRENCY_RETRY_HINT_MS } from '../math/concurrency-slots.js';
import { BUCKET_SCALE } from '../math/token-bucket.js';

/**
 * Real-time TTL Redis puts on bucket, lease and record keys beyond their logical lifetime (records: only
 * under a test clock, see {@link RECORD_GC_GRACE_MS}). It only collects garbage: every expiry that matters is
 * decided by the scripts from stored timestamps and the script's clock, so a test clock running ahead of real
 * time sees the same answers as the memory store. It exceeds the longest reservation so that refreshing a
 * lease set's TTL for a short lease never drops a longer one.
 */
export const GC_GRACE_MS = 2 * MAX_RESERVATION_TTL_MS;

/**
 * Real-time TTL margin of a request record beyond its logical lifetime (reservation expiry + retention) when
 * the scripts read Redis `TIME`, i.e. in production. Records are the only keys made per request, so they
 * must not carry {@link GC_GRACE_MS}: two more days of every request's record would hold ~28 GB of Redis
 * memory at 1 000 requests/s. The margin covers the partition clock running ahead of Redis `TIME` after a
 * failover to a replica whose clock is behind; a lead beyond it only shortens a record's retention by the
 * difference. Under a test clock records keep {@link GC_GRACE_MS}: that clock may stand still while real
 * time passes.
 */
export const RECORD_GC_GRACE_MS = 60_000;

/** Real-time TTL of a partition's clock key: longer than any record it keeps forgotten can live. */
export const CLOCK_TTL_MS = GC_GRACE_MS + 2 * MAX_RESERVATION_TTL_MS;

/**
 * Lua mirrors of `src/math/*.ts`, prepended to every script. PARITY RULE: each function repeats its TS
 * twin's operations in the same order on the same integer-valued doubles (Lua 5.1 numbers are doubles, as JS
 * numbers are), so both stores agree bit for bit. Numbers are written to Redis with `%d` because Lua's
 * default number formatting (`%.14g`) would round values above 10^14. Every value written is a safe integer
 * (the stores validate their inputs as such), and Lua 5.1 formats `%d` through a C `long`, exact up to 2^63;
 * `%.0f` gives the same digits but takes glibc's multi-precision path for large doubles, which was ~10 % of
 * Redis's CPU per admission and settlement in a profile. Change both sides together; the
 * differential test in `test/` fails when they drift.
 */
export const LUA_LIBRARY = `
local SCALE = ${String(BUCKET_SCALE)}
local RECLAIM_BATCH = ${String(RECLAIM_BATCH)}
local GC_GRACE_MS = ${String(GC_GRACE_MS)}
local SLOT_RETRY_HINT_MS = ${String(CONCURRENCY_RETRY_HINT_MS)}
local MS_PER_DAY = ${String(MS_PER_DAY)}
local CLOCK_TTL_MS = ${String(CLOCK_TTL_MS)}
local RECORD_GC_GRACE_MS = ${String(RECORD_GC_GRACE_MS)}

local function fmt(n) return string.format('%d', n) end
local function ceil_div(n, d) return math.floor((n + d - 1) / d) end

-- Production passes '' and the script reads Redis TIME; tests pass their clock's reading.
local function now_ms(override)
  if override ~= '' then return tonumber(override) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Real-time TTL margin of a request record (RECORD_GC_GRACE_MS in lua-library.ts): short on Redis TIME,
-- GC_GRACE_MS under a test clock.
local function record_grace(override)
  if override ~= '' then return GC_GRACE_MS end
  return RECORD_GC_GRACE_MS
end

-- partition-clock.ts: the partition's time never goes backwards.
local function partition_now(clock_key, override)
  local now = now_ms(override)
  local seen = redis.call('GET', clock_key)
  if seen then now = math.max(now, tonumber(seen)) end
  redis.call('SET', clock_key, fmt(now), 'PX', CLOCK_TTL_MS)
  return now
end

-- token-bucket.ts
local function bucket_refill(key, rate, burst, now)
  local capacity = burst * SCALE
  local raw = redis.call('HMGET', key, 'l', 'u')
  if not raw[1] then return capacity, now end
  local level = math.min(tonumber(raw[1]), capacity)
  local updated = tonumber(raw[2])
  local elapsed = now - updated
  if elapsed <= 0 then return level, updated end
  if level < capacity then
    local full_after = ceil_div(capacity - level, rate)
    level = math.min(capacity, level + math.min(elapsed, full_after) * rate)
  end
  return level, now
end
-- memory-limit-state.ts bucketLimits: the limits the bucket was last saved under (its latest admission's
-- policy), else the caller's.
local function bucket_limits(key, rate, burst)
  local raw = redis.call('HMGET', key, 'r', 'b')
  if not raw[1] then return rate, burst end
  return tonumber(raw[1]), tonumber(raw[2])
end
local function bucket_save(key, level, updated, rate, burst)
  redis.call('HSET', key, 'l', fmt(level), 'u', fmt(updated), 'r', fmt(rate), 'b', fmt(burst))
  redis.call('PEXPIRE', key, fmt(ceil_div(burst * SCALE - level, rate) + GC_GRACE_MS))
end
local function bucket_evaluate(level, cost, rate, burst)
  if cost > burst then return false, -1 end
  local need = cost * SCALE
  if level >= need then return true, 0 end
  return false, ceil_div(need - level, rate)
end
local function bucket_remaining(level) return math.max(0, math.floor(level / SCALE)) end
local function bucket_reset_at(level, rate, burst, now)
  local capacity = burst * SCALE
  if level >= capacity then return now end
  return now + ceil_div(capacity - level, rate)
end
local function bucket_adjust(level, delta, burst)
  local capacity = burst * SCALE
  return math.max(-capacity, math.min(capacity, level + delta * SCALE))
end

-- budget-period.ts
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = m + 9
  if m > 2 then mp = m - 3 end
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end
local function civil_from_days(days)
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp - 9
  if mp < 10 then m = mp + 3 end
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return y, m, d
end
local function period_start(period, now)
  if period == 'total' then return 0 end
  local days = math.floor(now / MS_PER_DAY)
  if period == 'day' then return days * MS_PER_DAY end
  local _, _, d = civil_from_days(days)
  return (days - d + 1) * MS_PER_DAY
end
local function period_end(period, start)
  if period == 'total' then return nil end
  if period == 'day' then return start + MS_PER_DAY end
  local y, m = civil_from_days(math.floor(start / MS_PER_DAY))
  if m == 12 then return days_from_civil(y + 1, 1, 1) * MS_PER_DAY end
  return days_from_civil(y, m + 1, 1) * MS_PER_DAY
end

-- budget-ledger.ts (period '' = null, ps -1 = unknown start, lo -1 = no override)
local function budget_load(key)
  local raw = redis.call('HMGET', key, 'pk', 'ps', 'pl', 'lo', 'cr', 'sp', 'rs')
  if not raw[2] then return { pk = '', ps = -1, pl = 0, lo = -1, cr = 0, sp = 0, rs = 0 }, false end
  return { pk = raw[1], ps = tonumber(raw[2]), pl = tonumber(raw[3]), lo = tonumber(raw[4]),
    cr = tonumber(raw[5]), sp = tonumber(raw[6]), rs = tonumber(raw[7]) }, true
end
local function budget_save(key, b)
  redis.call('HSET', key, 'pk', b.pk, 'ps', fmt(b.ps), 'pl', fmt(b.pl), 'lo', fmt(b.lo),
    'cr', fmt(b.cr), 'sp', fmt(b.sp), 'rs', fmt(b.rs))
end
local function budget_roll(b, plan_limit, plan_period, now)
  local period = b.pk
  local limit = b.pl
  if plan_period then period = plan_period; limit = plan_limit end
  if period == '' then return end
  local current = period_start(period, now)
  if b.ps == -1 then
    b.ps = current
  elseif current > b.ps then
    b.ps = current; b.sp = 0; b.cr = 0
  end
  b.pk = period; b.pl = limit
end
local function reservation_member(amount, request_id) return fmt(amount) .. ':' .. request_id end
local function budget_reclaim(b, zkey, now)
  local expired = redis.call('ZRANGEBYSCORE', zkey, '-inf', fmt(now), 'LIMIT', 0, RECLAIM_BATCH)
  local n = #expired
  if n == 0 then return end
  for i = 1, n do b.rs = b.rs - tonumber(string.match(expired[i], '^(%d+):')) end
  redis.call('ZREMRANGEBYRANK', zkey, 0, n - 1)
end
local function budget_limit(b)
  local base = b.pl
  if b.lo >= 0 then base = b.lo end
  return base + b.cr
end
local function budget_available(b) return budget_limit(b) - b.sp - b.rs end
local function budget_reset_at(b)
  if b.pk == '' or b.ps == -1 then return nil end
  return period_end(b.pk, b.ps)
end
local function budget_evaluate(b, cost, now)
  if cost <= budget_available(b) then return true, 0 end
  local reset_at = budget_reset_at(b)
  if reset_at == nil or cost > budget_limit(b) then return false, -1 end
  return false, reset_at - now
end

-- concurrency-slots.ts
local function slots_load(key, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now))
  local active = redis.call('ZCARD', key)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  local earliest = nil
  if first[2] then earliest = tonumber(first[2]) end
  return active, earliest
end
local function slots_evaluate(active, max, earliest, now)
  if active < max then return true, 0 end
  local until_expiry = SLOT_RETRY_HINT_MS
  if earliest ~= nil then until_expiry = earliest - now end
  return false, math.min(SLOT_RETRY_HINT_MS, until_expiry)
end
local function slots_reset_at(earliest, now)
  if earliest == nil then return now end
  return earliest
end
`;
