import { PAST_DEADLINE_FUNCTION } from '../stores/redis/lua.js'
import { INBOX_FUNCTIONS } from './redis-lifecycle-lua.js'

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
 * KEYS: [1] replay epoch, [2] nonce, [3] idempotency record, [4] recipient stream, [5] recipient id map,
 *       [6] recipient usage hash, [7] its schedule, [8] its delivery state, [9] its dead letters,
 *       [10] their index, [11] their expiry (redis-lifecycle-lua.ts).
 * ARGV: [1] now (unix seconds), [2] request timestamp, or '' to record no nonce (the accept has no
 *       claim: KEYS[1] and [2] are then not touched), [3] nonce TTL, [4] max future skew, [5] the
 *       request's SHA-256 when it carries an Idempotency-Key, else '', [6] idempotency TTL, [7] inbox
 *       limit, [8] message JSON, [9] message id, [10] the recipient's arrivals channel, [11] recipient,
 *       [12] deadline (unix ms, the gateway's clock), [13] the idempotency record JSON to store
 *       (`{"acceptance":{...},"request_sha256":"..."}`), [14] the message's stored bytes, [15] sender,
 *       [16] inbox byte budget, [17] a sender's share of messages, [18] a sender's share of bytes,
 *       [19] the publish command: PUBLISH, or SPUBLISH on a cluster (sharded pub/sub: the channel is in
 *       the recipient's slot, so only that shard's subscribers hear it), [20] now (unix ms), [21] deliver at
 *       (unix ms, '' for at once), [22] expires at (unix ms, '' for never).
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
local K = {stream = KEYS[4], ids = KEYS[5], usage = KEYS[6], due = KEYS[7], state = KEYS[8], dead = KEYS[9], dead_index = KEYS[10], dead_expiry = KEYS[11]}
${INBOX_FUNCTIONS}
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
-- Expired dead letters give their bytes back before the budget is decided.
drop_expired_dead(tonumber(ARGV[20]))
local size = tonumber(ARGV[14])
local usage = redis.call('HMGET', KEYS[6], 'bytes', 'm:' .. ARGV[15], 'b:' .. ARGV[15])
local bytes, sender_messages, sender_bytes = tonumber(usage[1]) or 0, tonumber(usage[2]) or 0, tonumber(usage[3]) or 0
local exists = redis.call('EXISTS', KEYS[4]) == 1
if exists and redis.call('XLEN', KEYS[4]) + 1 > tonumber(ARGV[7]) then return {'${OUTCOME.inboxFull}', 'messages'} end
if bytes + size > tonumber(ARGV[16]) then return {'${OUTCOME.inboxFull}', 'bytes'} end
if sender_messages + 1 > tonumber(ARGV[17]) then return {'${OUTCOME.senderShareExceeded}', 'messages'} end
if sender_bytes + size > tonumber(ARGV[18]) then return {'${OUTCOME.senderShareExceeded}', 'bytes'} end
local entry = redis.call('XADD', KEYS[4], '*', 'm', ARGV[8], 'f', ARGV[15], 'n', ARGV[14], 'i', ARGV[9], 'x', ARGV[22])
-- Due at once (0: before every redelivery, then by entry id, the accept order), or when deferred to.
local due = tonumber(ARGV[21]) or 0
local expires = tonumber(ARGV[22])
if expires and expires < due then due = expires end
redis.call('ZADD', KEYS[7], due, entry)
redis.call('HSET', KEYS[5], ARGV[9], entry)
redis.call('HINCRBY', KEYS[6], 'bytes', size)
redis.call('HINCRBY', KEYS[6], 'm:' .. ARGV[15], 1)
redis.call('HINCRBY', KEYS[6], 'b:' .. ARGV[15], size)
if idempotent then redis.call('SET', KEYS[3], ARGV[13], 'EX', ARGV[6]) end
redis.call(ARGV[19], ARGV[10], ARGV[11])
return {'${OUTCOME.accepted}'}
`
