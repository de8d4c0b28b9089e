import { layoutOf, pingRedis, type RedisClient } from '../stores/redis/client.js'
import { RedisKeys } from '../stores/redis/keys.js'
import { DependencyUnavailableError } from '../errors/faults.js'
import { runRedis } from '../stores/redis/run.js'
import { RedisScript } from '../stores/redis/script.js'
import { CLAIM_NONCE, OUTCOME } from '../transport/redis-lua.js'
import type { NonceClaim } from '../transport/types.js'
import { checkNonceClaim } from './claim.js'
import { RedisReplaySafety, type RedisReplaySafetyOptions } from './redis-safety.js'
import { checkMaxFutureSkew, DEFAULT_MAX_FUTURE_SKEW_SECONDS, type ClaimResult, type ReplayCache, type ReplayRules } from './types.js'

/** The replay epoch of a standalone Redis (tests reset it): keys.ts has every layout's names. */
export function replayEpochKey(prefix: string): string {
  return new RedisKeys(prefix, 'standalone').epochFor('')
}

/** The run id recorded beside a standalone Redis's epoch (redis-safety.ts). */
export function replayRunIdKey(prefix: string): string {
  return new RedisKeys(prefix, 'standalone').runIdFor('')
}

/**
 * The arguments CLAIM_NONCE takes after its keys: now (s), timestamp (s), TTL (s), max future skew (s).
 * The accept passes the same last three after its own now (ms), from which its script takes the seconds.
 */
export function claimArgs(claim: NonceClaim, rules: ReplayRules): [string, string, string, string] {
  return [String(Math.floor(claim.now / 1000)), String(claim.timestamp), String(claim.ttlSeconds), String(rules.maxFutureSkewSeconds)]
}

const CLAIM_NONCE_SCRIPT = new RedisScript<[epochKey: string, nonceKey: string, nowSeconds: string, timestamp: string, ttlSeconds: string, skew: string], [string, number?]>(CLAIM_NONCE, 2)

export interface RedisReplayCacheOptions {
  /** See ReplayRules. Default DEFAULT_MAX_FUTURE_SKEW_SECONDS. */
  maxFutureSkewSeconds?: number
  /** Period of the background maxmemory-policy and run_id check. Default 10 s. */
  checkIntervalMs?: number
  onChange?: RedisReplaySafetyOptions['onChange']
}

/**
 * The replay cache on Redis: one Lua script per claim (epoch check, then SET NX EX). It shares its
 * keys and its claim logic with the Redis transport's accept script, so a nonce claimed by either is
 * replayed for the other; the transport takes this cache's `rules`, so both fail closed together.
 *
 * Nonce keys carry a TTL, so Redis must not evict them: it must run with `maxmemory-policy
 * noeviction`. The connect-time checks (redis-safety.ts) refuse any other policy and move the epoch
 * when the server's run_id changes. Claims fail closed until `startEpoch` has run them once.
 */
export class RedisReplayCache implements ReplayCache {
  readonly rules: ReplayRules
  readonly #redis: RedisClient
  readonly #keys: RedisKeys
  readonly #safety: RedisReplaySafety

  /**
   * @param redis a standalone client or a Cluster: the key layout follows it (stores/redis/keys.ts).
   * @param prefix key prefix, the same for every process sharing the cache.
   */
  constructor(redis: RedisClient, prefix: string, options: RedisReplayCacheOptions = {}) {
    this.#keys = new RedisKeys(prefix, layoutOf(redis))
    const maxFutureSkewSeconds = checkMaxFutureSkew(options.maxFutureSkewSeconds ?? DEFAULT_MAX_FUTURE_SKEW_SECONDS)
    this.#redis = redis
    this.#safety = new RedisReplaySafety(redis, {
      keys: this.#keys, maxFutureSkewSeconds,
      ...(options.checkIntervalMs !== undefined ? { intervalMs: options.checkIntervalMs } : {}),
      ...(options.onChange !== undefined ? { onChange: options.onChange } : {}),
    })
    const safety = this.#safety
    this.rules = { maxFutureSkewSeconds, assertSafe: () => safety.assertSafe() }
  }

  async claim(claim: NonceClaim): Promise<ClaimResult> {
    checkNonceClaim(claim)
    this.rules.assertSafe()
    const [outcome, epoch] = await this.#run(() =>
      CLAIM_NONCE_SCRIPT.run(this.#redis, this.#keys.epochFor(claim.target), this.#keys.nonce(claim.target, claim.keyId, claim.nonce), ...claimArgs(claim, this.rules)),
    )
    switch (outcome) {
      case OUTCOME.fresh:
        return { outcome: 'fresh' }
      case OUTCOME.replayed:
        return { outcome: 'replayed' }
      case OUTCOME.beforeEpoch:
        return { outcome: 'before_epoch', epoch: Number(epoch) }
      default:
        throw new DependencyUnavailableError('replay_cache', new Error(`unexpected claim reply ${JSON.stringify(outcome)}`))
    }
  }

  /**
   * The connect-time checks (policy, run_id, epoch), with the gateway's clock at `now`: redis-safety.ts.
   * Rerun by themselves on every reconnect and every `checkIntervalMs` from the first call on.
   */
  async startEpoch(now: number): Promise<number> {
    if (!Number.isFinite(now)) throw new RangeError(`expected now to be unix milliseconds, got ${now}`)
    return this.#safety.check(now)
  }

  async ping(): Promise<void> {
    await this.#run(() => pingRedis(this.#redis))
    this.rules.assertSafe()
  }

  async close(): Promise<void> {
    this.#safety.close()
  }

  #run<T>(fn: () => Promise<T>): Promise<T> {
    return runRedis('replay_cache', fn)
  }
}
