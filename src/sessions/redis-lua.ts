import { PAST_DEADLINE_FUNCTION } from '../stores/redis/lua.js'

/**
 * The Lua the Redis session store runs. Each script touches one key, so it runs in one slot on a
 * cluster (a session's keys are spread over several slots on purpose: specs/sessions.md). Every
 * write starts with `past_deadline`: a command that timed out (its caller answered 503) and runs
 * later writes nothing. Kept as TS strings so the build has no non-TS files to copy.
 */

/** First element of every script's reply. */
export const SESSION_OUTCOME = {
  started: 'started',
  tooManyOpen: 'too_many_open',
  written: 'written',
  taken: 'taken',
  closed: 'closed',
  changed: 'changed',
  missing: 'missing',
  late: 'late',
} as const

const late = (argv: number): string => `${PAST_DEADLINE_FUNCTION}
if past_deadline(ARGV[${argv}]) then return {'${SESSION_OUTCOME.late}'} end
`

/**
 * Lua: `extend_to(key, at)`: the key expires at `at` (unix ms) unless it already expires later. A
 * set is kept until its latest member is due, never less.
 */
const EXTEND_TO_FUNCTION = `
local function extend_to(key, at)
  local current = redis.call('PEXPIRETIME', key)
  if current == -1 or (current >= 0 and current < tonumber(at)) then redis.call('PEXPIREAT', key, at) end
end
`

/**
 * max_open's count, atomic in the initiator's slot. KEYS: [1] the key's open set (id -> expires ms).
 * ARGV: [1] now (unix ms), [2] max open ('' for no limit), [3] session id, [4] expires ms, [5] deadline.
 * Prunes the members due at or before now (a close ZREMs its own), counts, and adds the session
 * unless the count is at the limit. Replies `{'started'}` or `{'too_many_open', open, earliest expiry}`.
 * The set expires with its latest member.
 */
export const COUNT_OPEN = `${late(5)}${EXTEND_TO_FUNCTION}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local open = redis.call('ZCARD', KEYS[1])
if ARGV[2] ~= '' and open >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {'${SESSION_OUTCOME.tooManyOpen}', open, first[2] or ARGV[4]}
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
extend_to(KEYS[1], ARGV[4])
return {'${SESSION_OUTCOME.started}'}
`

/**
 * The record of a new session. KEYS: [1] record. ARGV: [1] record JSON, [2] retained-until (unix ms),
 * [3] deadline. Replies `{'written'}`, or `{'taken'}` when the id is already stored (nothing written).
 */
export const WRITE_RECORD = `${late(3)}
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PXAT', ARGV[2]) then return {'${SESSION_OUTCOME.written}'} end
return {'${SESSION_OUTCOME.taken}'}
`

/**
 * An entry of a per-participant listing index, or of the due or retired set. KEYS: [1] sorted set.
 * ARGV: [1] score, [2] member, [3] when the set may expire at the earliest (unix ms), [4] deadline.
 */
export const INDEX_ADD = `${late(4)}${EXTEND_TO_FUNCTION}
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
extend_to(KEYS[1], ARGV[3])
return {'${SESSION_OUTCOME.written}'}
`

/**
 * The close's compare-and-set. KEYS: [1] record. ARGV: [1] the record JSON the close was decided on,
 * [2] the closed record JSON, [3] retained-until (unix ms), [4] deadline. The JSON is compared and
 * stored exactly as given rather than edited here: cjson would rewrite an outcome (`[]` as `{}`,
 * numbers to 14 digits). Replies `{'closed'}`, `{'missing'}`, or `{'changed', current JSON}`.
 */
export const CLOSE_RECORD = `${late(4)}
local current = redis.call('GET', KEYS[1])
if not current then return {'${SESSION_OUTCOME.missing}'} end
if current ~= ARGV[1] then return {'${SESSION_OUTCOME.changed}', current} end
redis.call('SET', KEYS[1], ARGV[2], 'PXAT', ARGV[3])
return {'${SESSION_OUTCOME.closed}'}
`
