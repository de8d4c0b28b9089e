import { PAST_DEADLINE_FUNCTION } from '../stores/redis/lua.js'

/**
 * The Lua the Redis transport and the Redis replay cache run. Each script is one round trip and runs
 * atomically on the server: a nonce is never recorded without its message being stored (or its refusal
 * decided), and a delivery or an acknowledgement cannot interleave with another one.
 * Kept as TS strings so the build has no non-TS files to copy.
 */

/** The consumer group every gateway process reads inboxes through. */
export const GROUP = 'mecharim'
/**
 * The one consumer of that group. Every gateway process reads as the same consumer, so an inbox is one
 * shared queue: a message is in flight (in the group's pending list) until it is acknowledged or its
 * visibility timeout passes, whichever process delivered it.
 */
export const CONSUMER = 'inbox'

/** Outcomes the claim and accept scripts return as the first element of their reply. */
export const OUTCOME = {
  fresh: 'fresh',
  accepted: 'accepted',
  duplicate: 'duplicate',
  replayed: 'replayed',
  beforeEpoch: 'before_epoch',
  inboxFull: 'inbox_full',
  senderShareExceeded: 'sender_share_exceeded',
  idempotencyKeyReused: 'idempotency_key_reused',
  idTaken: 'id_taken',
  late: 'late',
} as const

/**
 * `claim_nonce(epochKey, nonceKey, nowSeconds, timestamp, ttlSeconds, maxFutureSkewSeconds)`: nil when
 * the nonce is now recorded, else the refusal reply. Shared by CLAIM_NONCE and ACCEPT so a nonce claimed
 * through the replay cache and one claimed by an accept are the same key under the same rule.
 *
 * The epoch is when this Redis started remembering nonces; the replay cache moves it forward when the
 * Redis may have lost writes (replay/redis-safety.ts). A request signed before `epoch + skew` could be
 * the replay of one whose nonce the lost data held (a client clock up to `skew` fast signs ahead of the
 * server), so it is refused and nothing is written for it; the epoch itself stays. A missing epoch (the
 * data vanished while the service ran) is set from the gateway's clock by the first claim.
 */
const CLAIM_NONCE_FUNCTION = `
local function claim_nonce(epoch_key, nonce_key, now_s, timestamp, ttl, skew)
  local stored = redis.call('GET', epoch_key)
  local epoch
  if stored then
    epoch = tonumber(stored)
  else
    redis.call('SET', epoch_key, now_s)
    epoch = tonumber(now_s)
  end
  if tonumber(timestamp) < epoch + tonumber(skew) then return {'${OUTCOME.beforeEpoch}', epoch} end
  if not redis.call('SET', nonce_key, 1, 'NX', 'EX', ttl) then return {'${OUTCOME.replayed}'} end
  return nil
end
`

/**
 * KEYS: [1] replay epoch, [2] nonce.
 * ARGV: [1] now (unix seconds), [2] request timestamp (unix seconds), [3] nonce TTL (seconds),
 *       [4] max future skew (seconds).
 * Reply: {'fresh'} | {'replayed'} | {'before_epoch', epoch}.
 */
export const CLAIM_NONCE = `${CLAIM_NONCE_FUNCTION}
local refused = claim_nonce(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if refused then return refused end
return {'${OUTCOME.fresh}'}
`

/**
 * KEYS: [1] replay epoch, [2] nonce, [3] idempotency record, [4] recipient stream, [5] recipient id map,
 *       [6] recipient usage hash.
 * ARGV: [1] now (unix seconds), [2] request timestamp, or '' to record no nonce (the accept has no
 *       claim: KEYS[1] and [2] are then not touched), [3] nonce TTL, [4] max future skew, [5] the
 *       request's SHA-256 when it carries an Idempotency-Key, else '', [6] idempotency TTL, [7] inbox
 *       limit, [8] message JSON, [9] message id, [10] the recipient's arrivals channel, [11] recipient,
 *       [12] deadline (unix ms, the gateway's clock), [13] the idempotency record JSON to store
 *       (`{"acceptance":{...},"request_sha256":"..."}`), [14] the message's stored bytes, [15] sender,
 *       [16] inbox byte budget, [17] a sender's share of messages, [18] a sender's share of bytes,
 *       [19] the publish command: PUBLISH, or SPUBLISH on a cluster (sharded pub/sub: the channel is in
 *       the recipient's slot, so only that shard's subscribers hear it).
 * Reply: {'accepted'} | {'duplicate', the record JSON} | {'idempotency_key_reused'} | {'replayed'}
 *        | {'before_epoch', epoch} | {'sender_share_exceeded', 'messages'|'bytes'}
 *        | {'inbox_full', 'messages'|'bytes'} | {'id_taken'} | {'late'}.
 *
 * The deadline guards against a hung Redis: a command the gateway already answered 503 for (its command
 * timed out) may still sit in Redis's socket buffer and run when Redis resumes. Past the deadline the
 * script writes nothing, so a 503 never turns into a delivery later. Redis's clock (TIME) is compared
 * with the gateway's: hosts must be NTP-synchronised, as the timestamp window already requires.
 *
 * An id already in the inbox is a gateway fault (ids are assigned by it), answered before anything is
 * written. Then the spec's order: the nonce first (a duplicate, a reused key or a full inbox still burns
 * it: the request was authenticated and answered), then the idempotency record, then the inbox limit.
 * The record holds the acceptance and the request digest, never the message. The stream holds only
 * unacknowledged messages (ack deletes entries), so its length is the count the limit is about; the
 * usage hash holds `bytes` (the inbox's) and `m:<from>` / `b:<from>` (each sender's messages and bytes),
 * moved by accept and ack, so every budget is decided in this one script, on keys of one recipient.
 * The budget rule is budgetRefusal's (checks.ts): the inbox first, then the sender's share of it. Each entry
 * carries its sender (`f`) and bytes (`n`) beside the message (`m`), for the ack to give them back.
 */
export const ACCEPT = `${CLAIM_NONCE_FUNCTION}${PAST_DEADLINE_FUNCTION}
if past_deadline(ARGV[12]) then return {'${OUTCOME.late}'} end
if redis.call('HEXISTS', KEYS[5], ARGV[9]) == 1 then return {'${OUTCOME.idTaken}'} end
if ARGV[2] ~= '' then
  local refused = claim_nonce(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
  if refused then return refused end
end
local idempotent = ARGV[5] ~= ''
if idempotent then
  local original = redis.call('GET', KEYS[3])
  if original then
    local record = cjson.decode(original)
    if record.request_sha256 ~= ARGV[5] then return {'${OUTCOME.idempotencyKeyReused}'} end
    return {'${OUTCOME.duplicate}', original}
  end
end
local size = tonumber(ARGV[14])
local usage = redis.call('HMGET', KEYS[6], 'bytes', 'm:' .. ARGV[15], 'b:' .. ARGV[15])
local bytes, sender_messages, sender_bytes = tonumber(usage[1]) or 0, tonumber(usage[2]) or 0, tonumber(usage[3]) or 0
local exists = redis.call('EXISTS', KEYS[4]) == 1
if exists and redis.call('XLEN', KEYS[4]) + 1 > tonumber(ARGV[7]) then return {'${OUTCOME.inboxFull}', 'messages'} end
if bytes + size > tonumber(ARGV[16]) then return {'${OUTCOME.inboxFull}', 'bytes'} end
if sender_messages + 1 > tonumber(ARGV[17]) then return {'${OUTCOME.senderShareExceeded}', 'messages'} end
if sender_bytes + size > tonumber(ARGV[18]) then return {'${OUTCOME.senderShareExceeded}', 'bytes'} end
if not exists then redis.call('XGROUP', 'CREATE', KEYS[4], '${GROUP}', '0', 'MKSTREAM') end
local entry = redis.call('XADD', KEYS[4], '*', 'm', ARGV[8], 'f', ARGV[15], 'n', ARGV[14])
redis.call('HSET', KEYS[5], ARGV[9], entry)
redis.call('HINCRBY', KEYS[6], 'bytes', size)
redis.call('HINCRBY', KEYS[6], 'm:' .. ARGV[15], 1)
redis.call('HINCRBY', KEYS[6], 'b:' .. ARGV[15], size)
if idempotent then redis.call('SET', KEYS[3], ARGV[13], 'EX', ARGV[6]) end
redis.call(ARGV[19], ARGV[10], ARGV[11])
return {'${OUTCOME.accepted}'}
`

/** Stale members (acknowledged elsewhere, trimmed) READ drops per call while it looks for the next due. */
const STALE_DUE_MEMBERS_PER_READ = 100

/**
 * KEYS: [1] recipient stream, [2] its delivery-time index (sorted set: entry id -> when delivered).
 * ARGV: [1] visibility (ms), [2] limit.
 * Reply: {due in (ms; -1 when nothing is in flight), message JSON, delivery count, ...}, oldest first.
 *
 * Redeliveries first: XAUTOCLAIM takes entries delivered at least `visibility` ago (by Redis's clock)
 * and not acknowledged, and counts the delivery. It examines at most ten times COUNT pending entries
 * per call, so it is repeated from its cursor until the pending list is exhausted or enough were taken.
 * Then new entries, all younger than any pending one, so the reply stays oldest first.
 *
 * "Due in": the pending list is ordered by entry id, not by delivery time (a redelivery moves an old
 * entry to the back), so every delivery is also recorded in the index, scored by Redis's clock; its
 * first member still pending is the next redelivery, and its idle time (XPENDING) says when. Members
 * no longer pending are dropped on the way (ACK removes its own; this catches the rest). Waiting
 * readers sleep until then instead of re-reading every second.
 */
export const READ = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local limit = tonumber(ARGV[2])
local visibility = tonumber(ARGV[1])
local out = {0}
local delivered = {}
local taken = 0
local function payload(fields)
  for i = 1, #fields, 2 do
    if fields[i] == 'm' then return fields[i + 1] end
  end
  return nil
end
local cursor = '0-0'
repeat
  local reply = redis.call('XAUTOCLAIM', KEYS[1], '${GROUP}', '${CONSUMER}', ARGV[1], cursor, 'COUNT', limit - taken)
  cursor = reply[1]
  for _, e in ipairs(reply[2]) do
    local json = type(e) == 'table' and payload(e[2])
    if json then
      local pending = redis.call('XPENDING', KEYS[1], '${GROUP}', e[1], e[1], 1)
      out[#out + 1] = json
      out[#out + 1] = pending[1][4]
      delivered[#delivered + 1] = e[1]
      taken = taken + 1
    end
  end
until cursor == '0-0' or taken >= limit
if taken < limit then
  local reply = redis.call('XREADGROUP', 'GROUP', '${GROUP}', '${CONSUMER}', 'COUNT', limit - taken, 'STREAMS', KEYS[1], '>')
  if reply then
    for _, e in ipairs(reply[1][2]) do
      local json = type(e) == 'table' and payload(e[2])
      if json then
        out[#out + 1] = json
        out[#out + 1] = 1
        delivered[#delivered + 1] = e[1]
        taken = taken + 1
      end
    end
  end
end
if #delivered > 0 then
  local time = redis.call('TIME')
  local now_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local scored = {}
  for _, id in ipairs(delivered) do
    scored[#scored + 1] = now_ms
    scored[#scored + 1] = id
  end
  redis.call('ZADD', KEYS[2], unpack(scored))
end
if taken >= limit then return out end
out[1] = -1
for _ = 1, ${STALE_DUE_MEMBERS_PER_READ} do
  local first = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #first == 0 then break end
  local pending = redis.call('XPENDING', KEYS[1], '${GROUP}', first[1], first[1], 1)
  if #pending == 0 then
    redis.call('ZREM', KEYS[2], first[1])
  else
    out[1] = math.max(0, visibility - tonumber(pending[1][3]))
    break
  end
end
return out
`

/**
 * KEYS: [1] recipient stream, [2] recipient id map, [3] delivery-time index, [4] recipient usage hash. ARGV: message ids.
 * Reply: how many entries were removed.
 *
 * Only delivered entries (in the group's pending list) are removed: acknowledging a message nobody has
 * read yet, or an unknown id, changes nothing. Removed entries are deleted from the stream, so memory
 * is held only by unacknowledged messages, and their bytes and sender's count go back to the usage
 * hash (a counter at 0 is deleted, so an empty inbox leaves no hash). An entry from before the byte
 * budgets has no `f`/`n` fields and was never counted there.
 */
export const ACK = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local function release(field, delta)
  if redis.call('HINCRBY', KEYS[4], field, -delta) <= 0 then redis.call('HDEL', KEYS[4], field) end
end
local function give_back(entry)
  local found = redis.call('XRANGE', KEYS[1], entry, entry)
  if #found == 0 then return end
  local fields = found[1][2]
  local from, size
  for i = 1, #fields, 2 do
    if fields[i] == 'f' then from = fields[i + 1] elseif fields[i] == 'n' then size = tonumber(fields[i + 1]) end
  end
  if from == nil or size == nil then return end
  release('bytes', size)
  release('m:' .. from, 1)
  release('b:' .. from, size)
end
local removed = 0
for _, id in ipairs(ARGV) do
  local entries = redis.call('HGET', KEYS[2], id)
  if entries then
    local kept = {}
    for entry in string.gmatch(entries, '%S+') do
      if #redis.call('XPENDING', KEYS[1], '${GROUP}', entry, entry, 1) > 0 then
        give_back(entry)
        redis.call('XACK', KEYS[1], '${GROUP}', entry)
        redis.call('XDEL', KEYS[1], entry)
        redis.call('ZREM', KEYS[3], entry)
        removed = removed + 1
      else
        kept[#kept + 1] = entry
      end
    end
    if #kept == 0 then
      redis.call('HDEL', KEYS[2], id)
    else
      redis.call('HSET', KEYS[2], id, table.concat(kept, ' '))
    end
  end
end
return removed
`
