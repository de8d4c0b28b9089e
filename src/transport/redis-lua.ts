import { PAST_DEADLINE_FUNCTION } from '../stores/redis/lua.js'
import { DEAD_LETTER_CLEANUP_FUNCTIONS } from './redis-lifecycle-lua.js'

/**
 * The Lua the Redis transport and the Redis replay cache run. Each script is one round trip and runs
 * atomically on the server: a nonce is never recorded without its message being stored (or its refusal
 * decided), and a delivery or an acknowledgement cannot interleave with another one.
 * Kept as TS strings so the build has no non-TS files to copy.
 */

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
 * KEYS: [1] replay epoch, [2] nonce, [3] idempotency record (without a claim, or without an
 *       Idempotency-Key, the epoch's key stands in for [2] or [3], never touched), then the recipient's inbox keys in
 *       RedisKeys.inboxKeys order, as every lifecycle script takes them: [4] stream, [5] id map,
 *       [6] schedule, [7] delivery state, [8] usage hash, [9] dead letters, [10] their index, [11] their
 *       expiry (redis-lifecycle-lua.ts).
 * ARGV: [1] now (unix ms, the gateway's clock), [2] request timestamp (unix seconds), or '' to record
 *       no nonce (the accept has no claim: KEYS[1] and [2] are then not touched), [3] nonce TTL
 *       (seconds), [4] max future skew (seconds), [5] the request's SHA-256 when it carries an
 *       Idempotency-Key, else '', [6] the transport's limits (acceptLimits below, one space-separated
 *       argument: they are the same on every call), [7] message JSON, [8] message id, [9] the
 *       recipient's arrivals channel, [10] recipient, [11] the idempotency record JSON to store
 *       (`{"acceptance":{...},"request_sha256":"..."}`), [12] sender, [13] deliver at (unix ms, '' for
 *       at once), [14] expires at (unix ms, '' for never).
 *       The message's stored bytes are its JSON's length (Lua strings count bytes, as storedBytes does).
 * Reply: {'accepted'} | {'duplicate', the record JSON} | {'idempotency_key_reused'} | {'replayed'}
 *        | {'before_epoch', epoch} | {'sender_share_exceeded', 'messages'|'bytes'}
 *        | {'inbox_full', 'messages'|'bytes'} | {'id_taken'} | {'late'}.
 *
 * The deadline (now plus the limits' deadline) guards against a hung Redis: a command the gateway
 * already answered 503 for (its command timed out) may still sit in Redis's socket buffer and run when
 * Redis resumes. Past the deadline the
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
local K = {stream = KEYS[4], ids = KEYS[5], due = KEYS[6], state = KEYS[7], usage = KEYS[8], dead = KEYS[9], dead_index = KEYS[10], dead_expiry = KEYS[11]}
${DEAD_LETTER_CLEANUP_FUNCTIONS}
local now = tonumber(ARGV[1])
local idem_ttl, inbox_limit, inbox_bytes, sender_limit, sender_bytes_limit, deadline, publish = string.match(ARGV[6], '^(%d+) (%d+) (%d+) (%d+) (%d+) (%d+) (%u+)$')
if past_deadline(now + tonumber(deadline)) then return {'${OUTCOME.late}'} end
if redis.call('HEXISTS', K.ids, ARGV[8]) == 1 then return {'${OUTCOME.idTaken}'} end
if ARGV[2] ~= '' then
  local refused = claim_nonce(KEYS[1], KEYS[2], tostring(math.floor(now / 1000)), ARGV[2], ARGV[3], ARGV[4])
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
local size = #ARGV[7]
local sender = ARGV[12]
local bytes, sender_messages, sender_bytes
local function refusal()
  local usage = redis.call('HMGET', K.usage, 'bytes', 'm:' .. sender, 'b:' .. sender)
  bytes, sender_messages, sender_bytes = tonumber(usage[1]) or 0, tonumber(usage[2]) or 0, tonumber(usage[3]) or 0
  if redis.call('XLEN', K.stream) + 1 > tonumber(inbox_limit) then return {'${OUTCOME.inboxFull}', 'messages'} end
  if bytes + size > tonumber(inbox_bytes) then return {'${OUTCOME.inboxFull}', 'bytes'} end
  if sender_messages + 1 > tonumber(sender_limit) then return {'${OUTCOME.senderShareExceeded}', 'messages'} end
  if sender_bytes + size > tonumber(sender_bytes_limit) then return {'${OUTCOME.senderShareExceeded}', 'bytes'} end
  return nil
end
-- Expired dead letters give their bytes back before a refusal is decided. Dropping them can only
-- make room, so an accept that fits does not look (reads and listings drop them too).
local refused = refusal()
if refused then
  drop_expired_dead(now)
  refused = refusal()
end
if refused then return refused end
-- Counts are written as integers (a Lua number could be written in exponent form, which HINCRBY refuses).
local function int(n) return string.format('%d', n) end
-- No expiry, no 'x' field (expiry_of reads a missing one as never).
local entry
if ARGV[14] == '' then
  entry = redis.call('XADD', K.stream, '*', 'm', ARGV[7], 'f', sender, 'n', int(size), 'i', ARGV[8])
else
  entry = redis.call('XADD', K.stream, '*', 'm', ARGV[7], 'f', sender, 'n', int(size), 'i', ARGV[8], 'x', ARGV[14])
end
-- Due at once (0: before every redelivery, then by entry id, the accept order), or when deferred to.
local due = tonumber(ARGV[13]) or 0
local expires = tonumber(ARGV[14])
if expires and expires < due then due = expires end
redis.call('ZADD', K.due, due, entry)
redis.call('HSET', K.ids, ARGV[8], entry)
-- The usage read above, plus this message (the script is atomic: one HSET for three HINCRBYs).
redis.call('HSET', K.usage, 'bytes', int(bytes + size), 'm:' .. sender, int(sender_messages + 1), 'b:' .. sender, int(sender_bytes + size))
if idempotent then redis.call('SET', KEYS[3], ARGV[11], 'EX', idem_ttl) end
redis.call(publish, ARGV[9], ARGV[10])
return {'${OUTCOME.accepted}'}
`

/**
 * ACCEPT's ARGV[6]: the idempotency TTL (seconds), the inbox limit (messages), the inbox byte budget,
 * a sender's share of messages and of bytes, how long after `now` the accept may still run (ms), and
 * the publish command (PUBLISH, or SPUBLISH on a cluster: sharded pub/sub, the channel is in the
 * recipient's slot, so only that shard's subscribers hear it). Built once per transport.
 */
export function acceptLimits(limits: {
  idempotencyTtlSeconds: number; inboxLimit: number; inboxMaxBytes: number; senderMaxMessages: number; senderMaxBytes: number; deadlineMs: number; publish: 'PUBLISH' | 'SPUBLISH'
}): string {
  const numbers = [limits.idempotencyTtlSeconds, limits.inboxLimit, limits.inboxMaxBytes, limits.senderMaxMessages, limits.senderMaxBytes, limits.deadlineMs]
  for (const n of numbers) if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`expected the accept's limits to be whole numbers, got ${JSON.stringify(limits)}`)
  return `${numbers.join(' ')} ${limits.publish}`
}
