import type { Redis } from 'ioredis'
import { DependencyUnavailableError } from '../errors/faults.js'
import { runRedis } from '../stores/redis/run.js'
import { CLAIM_NONCE, OUTCOME } from '../transport/redis-lua.js'
import type { NonceClaim } from '../transport/types.js'
import { checkNonceClaim } from './claim.js'
import { RedisReplaySafety, type RedisReplaySafetyOptions } from './redis-safety.js'
import { checkMaxFutureSkew, DEFAULT_MAX_FUTURE_SKEW_SECONDS, type ClaimResult, type ReplayCache, type ReplayRules } from './types.js'

/**
 * `nonce:<keyId>:<nonce>`: one string per remembered nonce, written with SET NX EX so it expires on its
 * own. Key ids never contain ':' (they are generated), so the key cannot be ambiguous.
 */
export function nonceKey(prefix: string, keyId: string, nonce: string): string {
  return `${prefix}nonce:${keyId}:${nonce}`
}

/** `replay-epoch`: unix seconds since which this Redis has been remembering nonces. Never expires. */
export function replayEpochKey(prefix: string): string {
  return `${prefix}replay-epoch`
}

/** `replay-run-id`: the Redis run_id the epoch was last checked against (redis-safety.ts). */
export function replayRunIdKey(prefix: string): string {
  return `${prefix}replay-run-id`
}

/** The arguments CLAIM_NONCE and ACCEPT take after their keys: now (s), timestamp (s), TTL (s), max future skew (s). */
export function claimArgs(claim: NonceClaim, rules: ReplayRules): [string, string, string, string] {
  return [String(Math.floor(claim.now / 1000)), String(claim.timestamp), String(claim.ttlSeconds), String(rules.maxFutureSkewSeconds)]
}

export function checkPrefix(prefix: string): void {
  if (typeof prefix !== 'string' || prefix === '') throw new TypeError(`expected a non-empty key prefix, got ${JSON.stringify(prefix)}`)
}

interface ClaimCommands {
  mecharimClaimNonce(epochKey: string, nonceKey: string, nowSeconds: string, timestamp: string, ttlSeconds: string, skew: string): Promise<[string, number?]>
}

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
  readonly #redis: Redis & ClaimCommands
  readonly #prefix: string
  readonly #safety: RedisReplaySafety

  constructor(redis: Redis, prefix: string, options: RedisReplayCacheOptions = {}) {
    checkPrefix(prefix)
    const maxFutureSkewSeconds = checkMaxFutureSkew(options.maxFutureSkewSeconds ?? DEFAULT_MAX_FUTURE_SKEW_SECONDS)
    redis.defineCommand('mecharimClaimNonce', { numberOfKeys: 2, lua: CLAIM_NONCE })
    this.#redis = redis as Redis & ClaimCommands
    this.#prefix = prefix
    this.#safety = new RedisReplaySafety(redis, {
      epochKey: replayEpochKey(prefix), runIdKey: replayRunIdKey(prefix), maxFutureSkewSeconds,
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
      this.#redis.mecharimClaimNonce(replayEpochKey(this.#prefix), nonceKey(this.#prefix, claim.keyId, claim.nonce), ...claimArgs(claim, this.rules)),
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
    await this.#run(() => this.#redis.ping())
    this.rules.assertSafe()
  }

  async close(): Promise<void> {
    this.#safety.close()
  }

  #run<T>(fn: () => Promise<T>): Promise<T> {
    return runRedis('replay_cache', fn)
  }
}
