import { layoutOf, type RedisClient } from '../stores/redis/client.js'
import { RedisKeys } from '../stores/redis/keys.js'
import { DependencyUnavailableError } from '../errors/faults.js'
import { runRedis } from '../stores/redis/run.js'
import { RedisScript } from '../stores/redis/script.js'
import type { RateLimiter, RateLimitResult } from './types.js'
import { checkHit, windowResult } from './window.js'

/**
 * A bucket outlives its window by this much, so a gateway whose clock runs a little behind the one
 * that started the window still finds the count instead of starting a fresh one.
 */
const EXPIRY_MARGIN_MS = 5000

/**
 * KEYS: [1] the bucket hash {start, count}.
 * ARGV: [1] now (unix ms, the gateway's clock), [2] window (ms), [3] limit, [4] expiry margin (ms).
 * Reply: {1 when allowed and counted, 0 when refused; count; window start (unix ms)}.
 *
 * The fixed window of window.ts, in one script so that concurrent hits from every gateway process
 * are counted exactly (no read-then-write race) in one round trip. A refused hit writes nothing. The
 * key expires with its window (plus the margin), so an idle bucket costs no memory.
 */
export const RATE_LIMIT_HIT = `
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'start', 'count')
local start_text = state[1]
local start = tonumber(start_text)
local count = tonumber(state[2]) or 0
if start == nil or now >= start + window then
  start_text = ARGV[1]
  start = now
  count = 0
end
if count >= tonumber(ARGV[3]) then return {0, count, start} end
count = count + 1
redis.call('HSET', KEYS[1], 'start', start_text, 'count', count)
redis.call('PEXPIRE', KEYS[1], math.max(1, start + window - now + tonumber(ARGV[4])))
return {1, count, start}
`

const RATE_LIMIT_HIT_SCRIPT = new RedisScript<[bucketKey: string, now: string, windowMs: string, limit: string, marginMs: string], [number, number, number]>(RATE_LIMIT_HIT, 1)

/**
 * The rate limiter on Redis, shared by every gateway process on the same Redis and prefix: one hash
 * per bucket, `ratelimit:<bucket>` under the prefix (a bucket is `key:<key id>` or
 * `authfail:<client address>`), expiring with its window. Memory is bounded by the buckets active
 * within one window.
 *
 * It runs on the replay cache's connection and fails the same way: any Redis failure is
 * DependencyUnavailableError('replay_cache'), answered 503 `replay_cache_unavailable` (fail closed:
 * a limit that cannot be counted is not waived). A hit that timed out on a hung Redis may still run
 * when Redis resumes; it can only count one request too many, never admit one.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #redis: RedisClient
  readonly #keys: RedisKeys

  constructor(redis: RedisClient, prefix: string) {
    this.#keys = new RedisKeys(prefix, layoutOf(redis))
    this.#redis = redis
  }

  async hit(bucket: string, limit: number, windowSeconds: number, now: number): Promise<RateLimitResult> {
    checkHit(bucket, limit, windowSeconds, now)
    const reply = await runRedis('replay_cache', () =>
      RATE_LIMIT_HIT_SCRIPT.run(this.#redis, this.#keys.rateLimit(bucket), String(Math.floor(now)), String(windowSeconds * 1000), String(limit), String(EXPIRY_MARGIN_MS)),
    )
    const [allowed, count, start] = Array.isArray(reply) ? reply.map(Number) : []
    if ((allowed !== 0 && allowed !== 1) || !Number.isFinite(count) || !Number.isFinite(start)) {
      throw new DependencyUnavailableError('replay_cache', new Error(`unexpected rate limit reply ${JSON.stringify(reply)}`))
    }
    return windowResult(allowed === 1, start as number, count as number, limit, windowSeconds, now)
  }
}
