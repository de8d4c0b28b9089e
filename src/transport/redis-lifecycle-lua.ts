/**
 * The Lua of a message's life in one recipient's inbox on Redis: read (deliver, redeliver, dead-letter
 * on expiry or after the last delivery), ack, nack, extend, reject, and the dead letters' list,
 * redrive and purge. Each is one script, so each transition is atomic, and every key it touches is the
 * recipient's (one slot on a cluster: stores/redis/keys.ts).
 *
 * Every lifecycle script takes the same eight keys, in this order (INBOX_KEYS):
 * [1] the stream (`m` message JSON, `f` sender, `n` bytes, `i` message id, `x` expires at, absent or '' for never),
 * [2] message id -> entry id, [3] the schedule (sorted set: entry id -> when it is next due, unix ms:
 * visible (again) or expired, whichever is first), [4] delivery state (hash: entry id -> "<count>
 * <latest delivery, unix ms>", absent until delivered), [5] the usage hash (the budgets), [6] dead
 * letters (hash: `r:<id>` -> the record's JSON, `m:<id>` -> the message JSON as it was stored),
 * [7] their index by id (sorted set, all scores 0, for paging), [8] their expiry (sorted set: id ->
 * expires at, unix ms).
 *
 * Times are the gateway's (every call passes its `now`), so both stores answer alike to the same
 * calls; hosts are NTP-synchronised, as the timestamp window already requires.
 */

/** Dead letters past their expiry that one script removes (the rest go with the next call). */
const EXPIRED_DEAD_LETTERS_PER_CALL = 100

/**
 * Lua: the helpers, over the table `K` of key names that each script sets first. Every `local
 * function` is a closure the script creates each time it runs, so a script takes only the helpers it
 * calls: the lifecycle scripts all of them (INBOX_FUNCTIONS), the accept the dead-letter clean-up
 * (DEAD_LETTER_CLEANUP_FUNCTIONS).
 */
const RELEASE_FUNCTION = `
local function release(field, delta)
  if delta == 0 then return end
  if redis.call('HINCRBY', K.usage, field, -delta) <= 0 then redis.call('HDEL', K.usage, field) end
end
`
const ENTRY_FUNCTIONS = `
local function fields_of(entry)
  local found = redis.call('XRANGE', K.stream, entry, entry)
  if #found == 0 then return nil end
  local f = {}
  local raw = found[1][2]
  for i = 1, #raw, 2 do f[raw[i]] = raw[i + 1] end
  if not f.m then return nil end
  return f
end
local function state_of(entry)
  local s = redis.call('HGET', K.state, entry)
  if not s then return 0, 0 end
  local count, at = string.match(s, '^(%d+) (%d+)$')
  return tonumber(count), tonumber(at)
end
local function expiry_of(f)
  if f.x and f.x ~= '' then return tonumber(f.x) end
  return nil
end
local function due_score(visible, f)
  local expires = expiry_of(f)
  if expires and expires < visible then return expires end
  return visible
end
local function message_id(f)
  return f.i or cjson.decode(f.m).id
end
local function entries_of(id)
  local out = {}
  local value = redis.call('HGET', K.ids, id)
  if value then for entry in string.gmatch(value, '%S+') do out[#out + 1] = entry end end
  return out
end
local function delivered_entries(id)
  local out = {}
  for _, entry in ipairs(entries_of(id)) do
    if redis.call('HEXISTS', K.state, entry) == 1 then out[#out + 1] = entry end
  end
  return out
end
local function forget_entry(entry, id)
  redis.call('XDEL', K.stream, entry)
  redis.call('ZREM', K.due, entry)
  redis.call('HDEL', K.state, entry)
  local kept = {}
  for _, other in ipairs(entries_of(id)) do
    if other ~= entry then kept[#kept + 1] = other end
  end
  if #kept == 0 then redis.call('HDEL', K.ids, id) else redis.call('HSET', K.ids, id, table.concat(kept, ' ')) end
end
`
const REMOVE_DEAD_FUNCTION = `
local function remove_dead(id, give_back)
  local meta = redis.call('HGET', K.dead, 'r:' .. id)
  if not meta then return nil, nil end
  local message = redis.call('HGET', K.dead, 'm:' .. id)
  redis.call('HDEL', K.dead, 'r:' .. id, 'm:' .. id)
  redis.call('ZREM', K.dead_index, id)
  redis.call('ZREM', K.dead_expiry, id)
  local record = cjson.decode(meta)
  if give_back and record.bytes > 0 then
    release('bytes', record.bytes)
    if record.from ~= '' then release('b:' .. record.from, record.bytes) end
  end
  return record, message
end
`
const DEAD_LETTER_FUNCTION = `
local function dead_letter(entry, f, reason, deliveries, now, ttl, detail)
  local id = message_id(f)
  forget_entry(entry, id)
  if f.f then release('m:' .. f.f, 1) end
  remove_dead(id, true)
  local record = {reason = reason, deliveries = deliveries, at = now, expires_at = now + ttl, bytes = tonumber(f.n or '0') or 0, from = f.f or ''}
  if detail ~= '' then record.detail = detail end
  local json = cjson.encode(record)
  redis.call('HSET', K.dead, 'r:' .. id, json, 'm:' .. id, f.m)
  redis.call('ZADD', K.dead_index, 0, id)
  redis.call('ZADD', K.dead_expiry, record.expires_at, id)
  return '{"record":' .. json .. ',"message":' .. f.m .. '}'
end
`
const DROP_EXPIRED_DEAD_FUNCTION = `
local function drop_expired_dead(now)
  for _, id in ipairs(redis.call('ZRANGE', K.dead_expiry, '-inf', now, 'BYSCORE', 'LIMIT', 0, ${EXPIRED_DEAD_LETTERS_PER_CALL})) do
    remove_dead(id, true)
  end
end
`

/** Every helper, in the order they call each other. */
export const INBOX_FUNCTIONS = `${RELEASE_FUNCTION}${ENTRY_FUNCTIONS}${REMOVE_DEAD_FUNCTION}${DEAD_LETTER_FUNCTION}${DROP_EXPIRED_DEAD_FUNCTION}`

/** `drop_expired_dead(now)` and what it calls: the accept's only use of the helpers. */
export const DEAD_LETTER_CLEANUP_FUNCTIONS = `${RELEASE_FUNCTION}${REMOVE_DEAD_FUNCTION}${DROP_EXPIRED_DEAD_FUNCTION}`

/** The consumer group of earlier versions (adopt_consumer_group). */
const LEGACY_GROUP = 'mecharim'

/**
 * Lua: `adopt_consumer_group(now, visibility)`. Earlier versions read an inbox through the consumer
 * group `mecharim` (pending list, XAUTOCLAIM) and scored `inbox-due` by delivery time. The first read
 * after an upgrade takes the group's state over, once, in the same script: each pending entry keeps
 * its delivery count and is due again one visibility timeout after its last delivery; every entry the
 * group had not delivered yet is due at once; then the group is destroyed. It reads the inbox's
 * entries once (bounded by its budgets); after that, a read pays one XINFO GROUPS.
 */
const ADOPT_CONSUMER_GROUP_FUNCTION = `
local function adopt_consumer_group(now, visibility)
  if redis.call('EXISTS', K.stream) == 0 then return end
  local groups = redis.call('XINFO', 'GROUPS', K.stream)
  if #groups == 0 then return end
  redis.call('DEL', K.due)
  local pending = {}
  for _, p in ipairs(redis.call('XPENDING', K.stream, '${LEGACY_GROUP}', '-', '+', 1000000000)) do
    local delivered_at = now - tonumber(p[3])
    pending[p[1]] = true
    redis.call('HSET', K.state, p[1], p[4] .. ' ' .. string.format('%d', delivered_at))
    redis.call('ZADD', K.due, delivered_at + visibility, p[1])
  end
  for _, e in ipairs(redis.call('XRANGE', K.stream, '-', '+')) do
    if not pending[e[1]] then redis.call('ZADD', K.due, 0, e[1]) end
  end
  redis.call('XGROUP', 'DESTROY', K.stream, '${LEGACY_GROUP}')
end
`

/** The lifecycle scripts' key table (their KEYS are INBOX_KEYS' order). */
const KEYS_TABLE = `
local K = {stream = KEYS[1], ids = KEYS[2], due = KEYS[3], state = KEYS[4], usage = KEYS[5], dead = KEYS[6], dead_index = KEYS[7], dead_expiry = KEYS[8]}
`

const PRELUDE = `${KEYS_TABLE}${INBOX_FUNCTIONS}`

/**
 * ARGV: [1] now (unix ms), [2] visibility (ms), [3] limit, [4] max deliveries (0: no limit),
 *       [5] dead-letter TTL (ms), [6] backoff (ms, comma-separated, '' for none).
 * Reply: {next due (unix ms, or -1 when nothing waits for a time), {message JSON, delivery count, ...},
 *         {dead letter JSON, ...}}.
 *
 * Takes the `limit` entries due earliest (ties: the oldest entry), then handles them oldest first: an
 * expired one, or one already delivered `max` times, becomes a dead letter; the others are delivered
 * and scheduled again after the visibility timeout and the backoff for their count. A full batch
 * answers "due now" (more may be). Then the schedule's first member is the next due time: no polling.
 */
export const READ = `${PRELUDE}${ADOPT_CONSUMER_GROUP_FUNCTION}
local now, visibility, limit, max, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local backoff = {}
for wait in string.gmatch(ARGV[6], '%d+') do backoff[#backoff + 1] = tonumber(wait) end
local function backoff_after(count)
  if (max > 0 and count >= max) or #backoff == 0 then return 0 end
  return backoff[math.min(count, #backoff)]
end
adopt_consumer_group(now, visibility)
drop_expired_dead(now)
local due = redis.call('ZRANGE', K.due, '-inf', now, 'BYSCORE', 'LIMIT', 0, limit)
local function older(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if tonumber(am) ~= tonumber(bm) then return tonumber(am) < tonumber(bm) end
  return tonumber(as) < tonumber(bs)
end
table.sort(due, older)
local delivered, dead = {}, {}
for _, entry in ipairs(due) do
  local f = fields_of(entry)
  if not f then
    redis.call('ZREM', K.due, entry)
    redis.call('HDEL', K.state, entry)
  else
    local count = state_of(entry)
    local expires = expiry_of(f)
    if expires and expires <= now then
      dead[#dead + 1] = dead_letter(entry, f, 'expired', count, now, ttl, '')
    elseif max > 0 and count >= max then
      dead[#dead + 1] = dead_letter(entry, f, 'max_deliveries', count, now, ttl, '')
    else
      count = count + 1
      redis.call('ZADD', K.due, due_score(now + visibility + backoff_after(count), f), entry)
      redis.call('HSET', K.state, entry, count .. ' ' .. ARGV[1])
      delivered[#delivered + 1] = f.m
      delivered[#delivered + 1] = count
    end
  end
end
local next_due = '-1'
if #due >= limit then
  next_due = ARGV[1]
else
  local first = redis.call('ZRANGE', K.due, 0, 0, 'WITHSCORES')
  if #first > 0 then next_due = first[2] end
end
return {next_due, delivered, dead}
`

/**
 * ARGV: message ids. Reply: how many entries were removed.
 *
 * Only delivered entries (with a delivery state) are removed: acknowledging a message nobody has read
 * yet, or an unknown id, changes nothing. Their bytes and their sender's counts go back to the usage
 * hash (a counter at 0 is deleted, so an empty inbox leaves no hash). An entry from before the byte
 * budgets has no `f`/`n` fields and was never counted there.
 */
export const ACK = `${PRELUDE}
local removed = 0
for _, id in ipairs(ARGV) do
  for _, entry in ipairs(delivered_entries(id)) do
    local f = fields_of(entry)
    if f and f.f and f.n then
      release('bytes', tonumber(f.n))
      release('m:' .. f.f, 1)
      release('b:' .. f.f, tonumber(f.n))
    end
    forget_entry(entry, id)
    removed = removed + 1
  end
end
return removed
`

/**
 * ARGV: [1] now (unix ms), [2] delay (ms), or '' for the backoff, [3] max deliveries (0: no limit),
 *       [4] backoff (ms, comma-separated), [5] the recipient's arrivals channel, [6] PUBLISH or
 *       SPUBLISH, [7..] message ids. Reply: how many were rescheduled.
 *
 * A nack can make a message due before a waiting reader's next read: it is announced like an arrival.
 */
export const NACK = `${PRELUDE}
local now, max = tonumber(ARGV[1]), tonumber(ARGV[3])
local backoff = {}
for wait in string.gmatch(ARGV[4], '%d+') do backoff[#backoff + 1] = tonumber(wait) end
local moved = 0
for i = 7, #ARGV do
  for _, entry in ipairs(delivered_entries(ARGV[i])) do
    local f = fields_of(entry)
    if f then
      local count = state_of(entry)
      local wait = tonumber(ARGV[2])
      if not wait then
        wait = 0
        if #backoff > 0 and not (max > 0 and count >= max) then wait = backoff[math.min(count, #backoff)] end
      end
      redis.call('ZADD', K.due, due_score(now + wait, f), entry)
      moved = moved + 1
    end
  end
end
if moved > 0 then redis.call(ARGV[6], ARGV[5], 'nack') end
return moved
`

/**
 * ARGV: [1] now (unix ms), [2] visibility (ms from now), [3] the bound (ms after the latest delivery),
 *       [4..] message ids. Reply: how many were rescheduled.
 */
export const EXTEND = `${PRELUDE}
local now, visibility, bound = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local moved = 0
for i = 4, #ARGV do
  for _, entry in ipairs(delivered_entries(ARGV[i])) do
    local f = fields_of(entry)
    if f then
      local _, delivered_at = state_of(entry)
      redis.call('ZADD', K.due, due_score(math.min(now + visibility, delivered_at + bound), f), entry)
      moved = moved + 1
    end
  end
end
return moved
`

/**
 * ARGV: [1] now (unix ms), [2] dead-letter TTL (ms), [3] the recipient's reason ('' for none),
 *       [4..] message ids. Reply: {dead letter JSON, ...}.
 */
export const REJECT = `${PRELUDE}
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
local dead = {}
for i = 4, #ARGV do
  for _, entry in ipairs(delivered_entries(ARGV[i])) do
    local f = fields_of(entry)
    if f then dead[#dead + 1] = dead_letter(entry, f, 'rejected', state_of(entry), now, ttl, ARGV[3]) end
  end
end
return dead
`

/**
 * ARGV: [1] now (unix ms), [2] limit, [3] the id to list after ('' from the start).
 * Reply: {dead letter JSON, ...} by message id. Expired ones are removed first.
 */
export const DEAD_LETTERS = `${PRELUDE}
drop_expired_dead(tonumber(ARGV[1]))
local start = '-'
if ARGV[3] ~= '' then start = '(' .. ARGV[3] end
local out = {}
for _, id in ipairs(redis.call('ZRANGE', K.dead_index, start, '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[2]))) do
  local record = redis.call('HGET', K.dead, 'r:' .. id)
  local message = redis.call('HGET', K.dead, 'm:' .. id)
  if record and message then out[#out + 1] = '{"record":' .. record .. ',"message":' .. message .. '}' end
end
return out
`

/**
 * ARGV: [1] now (unix ms), [2] the recipient's arrivals channel, [3] PUBLISH or SPUBLISH, [4..] ids.
 * Reply: how many dead letters went back to the inbox.
 *
 * A redriven message is a new stream entry (so it is delivered as a new one, count 0, no expiry), with
 * the same message id. Its bytes never left the budget; its sender's message count comes back.
 */
export const REDRIVE = `${PRELUDE}
local now = tonumber(ARGV[1])
drop_expired_dead(now)
local moved = 0
for i = 4, #ARGV do
  local id = ARGV[i]
  local record, message = remove_dead(id, false)
  if record and message then
    local entry = redis.call('XADD', K.stream, '*', 'm', message, 'f', record.from, 'n', tostring(record.bytes), 'i', id, 'x', '')
    redis.call('HSET', K.ids, id, entry)
    redis.call('ZADD', K.due, 0, entry)
    if record.from ~= '' then redis.call('HINCRBY', K.usage, 'm:' .. record.from, 1) end
    moved = moved + 1
  end
end
if moved > 0 then redis.call(ARGV[3], ARGV[2], 'redrive') end
return moved
`

/** ARGV: [1] now (unix ms), [2..] ids. Reply: how many dead letters were removed. */
export const PURGE = `${PRELUDE}
local removed = 0
for i = 2, #ARGV do
  if remove_dead(ARGV[i], true) then removed = removed + 1 end
end
drop_expired_dead(tonumber(ARGV[1]))
return removed
`
