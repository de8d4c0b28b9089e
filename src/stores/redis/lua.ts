/**
 * The Lua the Redis control store runs. Each script is one round trip and runs atomically on the
 * server, so a compare-and-set, its index update and its audit event are written together or not at all.
 * Kept as TS strings so the build has no non-TS files to copy.
 */

/** Returned by SAVE_RECORD when the stored version is not the expected one (nothing was written). */
export const CONFLICT = 0
/** Returned by SAVE_RECORD when the record, its index entry and its audit event were written. */
export const SAVED = 1
/** Returned by both scripts when they ran after their deadline: nothing was written. */
export const LATE = 2

/**
 * Lua: `past_deadline(deadline)`, true once Redis's clock (TIME) is past `deadline` (unix ms, the
 * service's clock). Every write script that the service may already have answered 503 for starts with
 * it: such a command (timed out against a hung Redis) may still sit in Redis's socket buffer and run
 * when Redis resumes, and past its deadline it writes nothing. Shared by the control store's scripts
 * and the transport's accept. Hosts must be NTP-synchronised, as the timestamp window already requires.
 */
export const PAST_DEADLINE_FUNCTION = `
local function past_deadline(deadline)
  local now = redis.call('TIME')
  return tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > tonumber(deadline)
end
`

const late = (argv: number): string => `${PAST_DEADLINE_FUNCTION}
if past_deadline(ARGV[${argv}]) then return ${LATE} end
`

/**
 * KEYS: [1] record (JSON string), [2] index sorted set, [3] audit sorted set, [4] audit hash.
 * ARGV: [1] expected version, '' when the record must not exist yet, [2] record JSON,
 *       [3] index member (the record id), [4] event id, [5] event JSON,
 *       [6] change channel, [7] change message (`mecha:<id>` / `key:<id>`), [8] deadline (unix ms).
 *
 * The version is read back out of the stored JSON with cjson rather than kept in a second key: one key
 * per record cannot drift from its own version. The record is stored exactly as the caller serialised
 * it, so reads return what was saved. The index is written on create only: a record never moves.
 */
export const SAVE_RECORD = `${late(8)}
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if current then return ${CONFLICT} end
  redis.call('ZADD', KEYS[2], 0, ARGV[3])
else
  if not current then return ${CONFLICT} end
  local stored = cjson.decode(current)
  if type(stored) ~= 'table' or stored.version ~= tonumber(ARGV[1]) then return ${CONFLICT} end
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[4])
redis.call('HSET', KEYS[4], ARGV[4], ARGV[5])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return ${SAVED}
`

/**
 * KEYS: [1] audit sorted set, [2] audit hash. ARGV: [1] event id, [2] event JSON, [3] deadline (unix ms).
 * A script rather than two commands so a crash between them cannot leave an id without its event.
 */
export const APPEND_AUDIT = `${late(3)}
redis.call('ZADD', KEYS[1], 0, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return ${SAVED}
`

/**
 * KEYS: [1] mode record (JSON string), [2] modes sorted set, [3] audit sorted set, [4] audit hash.
 * ARGV: [1] expected revision, '' when the mode must not exist yet, [2] record JSON, [3] mode name,
 *       [4] event id, [5] event JSON, [6] deadline (unix ms).
 *
 * SAVE_RECORD's rule on a mode's `revision` (its `version` is the protocol's, not the record's). No
 * change message: no cache holds modes.
 */
export const SAVE_MODE = `${late(6)}
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '' then
  if current then return ${CONFLICT} end
else
  if not current then return ${CONFLICT} end
  local stored = cjson.decode(current)
  if type(stored) ~= 'table' or stored.revision ~= tonumber(ARGV[1]) then return ${CONFLICT} end
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[3])
redis.call('ZADD', KEYS[3], 0, ARGV[4])
redis.call('HSET', KEYS[4], ARGV[4], ARGV[5])
return ${SAVED}
`

/**
 * KEYS: as SAVE_MODE. ARGV: [1] expected revision, [2] mode name, [3] event id, [4] event JSON,
 * [5] deadline (unix ms). Removes the record and its index entry only at the expected revision.
 */
export const DELETE_MODE = `${late(5)}
local current = redis.call('GET', KEYS[1])
if not current then return ${CONFLICT} end
local stored = cjson.decode(current)
if type(stored) ~= 'table' or stored.revision ~= tonumber(ARGV[1]) then return ${CONFLICT} end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], 0, ARGV[3])
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
return ${SAVED}
`
