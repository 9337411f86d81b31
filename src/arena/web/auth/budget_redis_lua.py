"""The Lua the Redis budget runs (`budget_redis.py`): each call is one atomic step across every
process, so two processes never both take the last unit.

Keys, under the prefix KEYS[1]:
  alive             sorted set: process id -> when its lease runs out (ms); set by ENTER and every
                    heartbeat (RENEW). A process past it is gone: its units, its tickets and the
                    grants nobody will come for go at once (`bury`), so the queue moves on
  limits            hash process id -> "total:per_user", its own settings: the budget's limits
                    are the smallest of every live process's (and the caller's own)
  procs             set of process ids that may hold units
  held:<proc>       hash user -> units that process holds; expires unless its heartbeat renews it
                    (a process killed with -9 frees its units within the lease); the heartbeat
                    writes it whole from the process's own count (RENEW), so a restart forgets
                    no running unit for longer than a beat
  queue             sorted set of waiting tickets, all score 0, so they sort by name:
                    "<lane>:<round>:<seq>" with fixed-width numbers (budget_queue.py's order)
  ticket:<name>     hash user, units, proc, seen (ms): a ticket its waiter stopped polling is dropped
  granted           sorted set: tickets served, until their waiter sees it (score: when, ms); units
                    no waiter came for within ticket_ttl go back
  reserved          hash user -> units of that user's waiting interactive tickets (count against the cap)
  served:<lane>     the round last served; last:<lane> hash user -> the round of their last ticket
  pending:<lane>    hash user -> how many tickets they have waiting
  seq               arrival counter
ARGV of every script: total, per_user (the caller's own settings), lease_ms, ticket_ttl_ms, then
the script's own.
Not for Redis Cluster: the scripts reach keys they compute (one Redis, as the README deploys).
"""

from __future__ import annotations

from typing import Final

PRELUDE: Final = r"""
local P = KEYS[1]
local OWN_TOTAL, OWN_PER_USER = tonumber(ARGV[1]), tonumber(ARGV[2])
local TOTAL, PER_USER  -- the shared limits: set at the end of the prelude
local LEASE_MS, TICKET_TTL_MS = tonumber(ARGV[3]), tonumber(ARGV[4])
local clock = redis.call('TIME')
local NOW = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local function live_procs()
  local live = {}
  for _, proc in ipairs(redis.call('SMEMBERS', P .. 'procs')) do
    if redis.call('EXISTS', P .. 'held:' .. proc) == 1 then
      table.insert(live, proc)
    else
      redis.call('SREM', P .. 'procs', proc)  -- gave everything back, or its lease ran out
    end
  end
  return live
end

local function in_use(procs)
  local sum = 0
  for _, proc in ipairs(procs) do
    for _, units in ipairs(redis.call('HVALS', P .. 'held:' .. proc)) do sum = sum + tonumber(units) end
  end
  return sum
end

local function held_by(procs, user)
  local sum = 0
  for _, proc in ipairs(procs) do sum = sum + tonumber(redis.call('HGET', P .. 'held:' .. proc, user) or 0) end
  return sum
end

local function reserved(user)
  return tonumber(redis.call('HGET', P .. 'reserved', user) or 0)
end

local function add_to(hash, field, by)
  if redis.call('HINCRBY', hash, field, by) <= 0 then redis.call('HDEL', hash, field) end
end

local function take(procs, proc, user, units)
  redis.call('HINCRBY', P .. 'held:' .. proc, user, units)
  redis.call('PEXPIRE', P .. 'held:' .. proc, LEASE_MS)
  if redis.call('SADD', P .. 'procs', proc) == 1 then table.insert(procs, proc) end
end

local function ticket(name)
  local t = redis.call('HMGET', P .. 'ticket:' .. name, 'user', 'units', 'proc', 'seen')
  return {user = t[1], units = tonumber(t[2]), proc = t[3], seen = tonumber(t[4]),
          lane = string.sub(name, 1, 1), round = tonumber(string.sub(name, 3, 14))}
end

local function forget(name, t, keep)
  redis.call('ZREM', P .. 'queue', name)
  if not keep then redis.call('DEL', P .. 'ticket:' .. name) end
  if t.user == false or t.user == nil then return end
  if t.lane == '0' then add_to(P .. 'reserved', t.user, -t.units) end
  if redis.call('HINCRBY', P .. 'pending:' .. t.lane, t.user, -1) <= 0 then
    redis.call('HDEL', P .. 'pending:' .. t.lane, t.user)
    redis.call('HDEL', P .. 'last:' .. t.lane, t.user)  -- nothing left behind per user
  end
end

-- Grant waiting tickets in order while units are free: interactive ones strictly in turn,
-- background ones only once no interactive ticket waits, skipping a user at their own cap.
local function serve()
  -- Units granted to a waiter that never came for them go back (its ticket kept what they were).
  for _, name in ipairs(redis.call('ZRANGEBYSCORE', P .. 'granted', '-inf', NOW - TICKET_TTL_MS)) do
    local t = ticket(name)
    if t.user then add_to(P .. 'held:' .. t.proc, t.user, -t.units) end
    redis.call('DEL', P .. 'ticket:' .. name)
    redis.call('ZREM', P .. 'granted', name)
  end
  local procs = live_procs()
  local free = TOTAL - in_use(procs)
  for _, name in ipairs(redis.call('ZRANGE', P .. 'queue', 0, -1)) do
    local t = ticket(name)
    if t.seen == nil or NOW - t.seen > TICKET_TTL_MS then
      forget(name, t)  -- its waiter is gone (its process died): a ghost holds no place
    else
      local go = true
      if t.lane == '0' then
        if t.units > free then break end
      elseif held_by(procs, t.user) + reserved(t.user) + t.units > PER_USER then
        go = false
      elseif t.units > free then
        break
      end
      if go then
        take(procs, t.proc, t.user, t.units)
        forget(name, t, true)
        free = free - t.units
        redis.call('ZADD', P .. 'granted', NOW, name)
        local served = tonumber(redis.call('GET', P .. 'served:' .. t.lane) or 0)
        if t.round > served then redis.call('SET', P .. 'served:' .. t.lane, t.round) end
      end
    end
  end
end

-- Processes whose lease ran out are gone: what they hold, wait for, or were granted goes now.
local function bury()
  local dead = redis.call('ZRANGEBYSCORE', P .. 'alive', '-inf', NOW)
  if #dead == 0 then return end
  local gone = {}
  for _, proc in ipairs(dead) do
    gone[proc] = true
    redis.call('ZREM', P .. 'alive', proc)
    redis.call('HDEL', P .. 'limits', proc)
    redis.call('DEL', P .. 'held:' .. proc)
    redis.call('SREM', P .. 'procs', proc)
  end
  for _, name in ipairs(redis.call('ZRANGE', P .. 'granted', 0, -1)) do
    if gone[ticket(name).proc] then
      redis.call('ZREM', P .. 'granted', name)
      redis.call('DEL', P .. 'ticket:' .. name)
    end
  end
  for _, name in ipairs(redis.call('ZRANGE', P .. 'queue', 0, -1)) do
    local t = ticket(name)
    if gone[t.proc] then forget(name, t) end
  end
end

-- This process lives for one more lease, with its own limits.
local function announce(proc)
  redis.call('ZADD', P .. 'alive', NOW + LEASE_MS, proc)
  redis.call('HSET', P .. 'limits', proc, OWN_TOTAL .. ':' .. OWN_PER_USER)
end

local function shared_limits()
  local total, per_user = OWN_TOTAL, OWN_PER_USER
  for _, value in ipairs(redis.call('HVALS', P .. 'limits')) do
    local t, u = string.match(value, '^(%d+):(%d+)$')
    if t then total, per_user = math.min(total, tonumber(t)), math.min(per_user, tonumber(u)) end
  end
  return total, per_user
end

local function place(name)
  if redis.call('ZREM', P .. 'granted', name) == 1 then
    redis.call('DEL', P .. 'ticket:' .. name)
    return {'granted', 0}
  end
  local ahead = redis.call('ZRANK', P .. 'queue', name)
  if ahead == false then return {'gone', 0} end
  return {'waiting', ahead}
end

bury()
TOTAL, PER_USER = shared_limits()
"""

# ARGV[5..]: user, units, lane ('0' interactive, '1' background), proc.
ENTER: Final = PRELUDE + r"""
local user, units, lane, proc = ARGV[5], tonumber(ARGV[6]), ARGV[7], ARGV[8]
announce(proc)
if lane == '0' then
  local mine = held_by(live_procs(), user) + reserved(user)
  if mine + units > PER_USER then return {'over', mine} end
end
local served = tonumber(redis.call('GET', P .. 'served:' .. lane) or 0)
local last = tonumber(redis.call('HGET', P .. 'last:' .. lane, user) or 0)
local round = math.max(served, last) + 1
redis.call('HSET', P .. 'last:' .. lane, user, round)
redis.call('HINCRBY', P .. 'pending:' .. lane, user, 1)
local name = string.format('%s:%012d:%012d', lane, round, redis.call('INCR', P .. 'seq'))
redis.call('HSET', P .. 'ticket:' .. name, 'user', user, 'units', units, 'proc', proc, 'seen', NOW)
redis.call('ZADD', P .. 'queue', 0, name)
if lane == '0' then redis.call('HINCRBY', P .. 'reserved', user, units) end
serve()
local result = place(name)
return {result[1], result[2], name}
"""

# ARGV[5]: the ticket. Its waiter is still there: keep it, serve, say where it stands.
TURN: Final = PRELUDE + r"""
local name = ARGV[5]
if redis.call('EXISTS', P .. 'ticket:' .. name) == 1 then
  redis.call('HSET', P .. 'ticket:' .. name, 'seen', NOW)
end
serve()
return place(name)
"""

# ARGV[5]: the ticket. Returns 1 when it had been granted (the caller gives the units back).
LEAVE: Final = PRELUDE + r"""
local name = ARGV[5]
if redis.call('ZREM', P .. 'granted', name) == 1 then
  redis.call('DEL', P .. 'ticket:' .. name)
  return 1
end
if redis.call('ZSCORE', P .. 'queue', name) then
  forget(name, ticket(name))
  serve()
end
return 0
"""

# ARGV[5..]: proc, user, units.
RELEASE: Final = PRELUDE + r"""
add_to(P .. 'held:' .. ARGV[5], ARGV[6], -tonumber(ARGV[7]))
serve()
return 0
"""

# ARGV[5]: user. Returns {units user holds, units held in all}.
USAGE: Final = PRELUDE + r"""
local procs = live_procs()
return {held_by(procs, ARGV[5]), in_use(procs)}
"""

# ARGV[5..]: proc, then user, units, user, units... (what the process counts that its callers hold).
# Its tickets granted but not yet come for are held too: their waiters have not counted them yet.
# Returns the shared limits {total, per_user}.
RENEW: Final = PRELUDE + r"""
local proc = ARGV[5]
announce(proc)
local key = P .. 'held:' .. proc
redis.call('DEL', key)
for i = 6, #ARGV, 2 do redis.call('HINCRBY', key, ARGV[i], tonumber(ARGV[i + 1])) end
for _, name in ipairs(redis.call('ZRANGE', P .. 'granted', 0, -1)) do
  local t = ticket(name)
  if t.proc == proc and t.user then redis.call('HINCRBY', key, t.user, t.units) end
end
if redis.call('EXISTS', key) == 1 then
  redis.call('PEXPIRE', key, LEASE_MS)
  redis.call('SADD', P .. 'procs', proc)
end
serve()
return {TOTAL, PER_USER}
"""
