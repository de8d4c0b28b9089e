import type { Redis } from 'ioredis'
import { DependencyUnavailableError } from '../errors/faults.js'
import { runRedis } from '../stores/redis/run.js'
import { CLAIM_NONCE, OUTCOME } from '../transport/redis-lua.js'
import type { NonceClaim } from '../transport/types.js'
import { checkNonceClaim } from './claim.js'
import type { ClaimResult, ReplayCache } from './types.js'

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

/** The arguments CLAIM_NONCE and ACCEPT take after their keys: now (s), timestamp (s), TTL (s). */
export function claimArgs(claim: NonceClaim): [string, string, string] {
  return [String(Math.floor(claim.now / 1000)), String(claim.timestamp), String(claim.ttlSeconds)]
}

export function checkPrefix(prefix: string): void {
  if (typeof prefix !== 'string' || prefix === '') throw new TypeError(`expected a non-empty key prefix, got ${JSON.stringify(prefix)}`)
}

interface ClaimCommands {
  mecharimClaimNonce(epochKey: string, nonceKey: string, nowSeconds: string, timestamp: string, ttlSeconds: string): Promise<[string, number?]>
}

/**
 * The replay cache on Redis: one Lua script per claim (epoch check, then SET NX EX). It shares its
 * keys and its claim logic with the Redis transport's accept script, so a nonce claimed by either is
 * replayed for the other.
 *
 * Nonce keys carry a TTL, so Redis must not evict them early: run it with `maxmemory-policy noeviction`
 * (an evicted nonce reopens a replay window; an evicted epoch key would be re-set at once, which only
 * refuses requests, never admits a replay).
 */
export class RedisReplayCache implements ReplayCache {
  readonly #redis: Redis & ClaimCommands
  readonly #prefix: string

  constructor(redis: Redis, prefix: string) {
    checkPrefix(prefix)
    redis.defineCommand('mecharimClaimNonce', { numberOfKeys: 2, lua: CLAIM_NONCE })
    this.#redis = redis as Redis & ClaimCommands
    this.#prefix = prefix
  }

  async claim(claim: NonceClaim): Promise<ClaimResult> {
    checkNonceClaim(claim)
    const [outcome, epoch] = await this.#run(() =>
      this.#redis.mecharimClaimNonce(replayEpochKey(this.#prefix), nonceKey(this.#prefix, claim.keyId, claim.nonce), ...claimArgs(claim)),
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

  async startEpoch(now: number): Promise<number> {
    const key = replayEpochKey(this.#prefix)
    const [, [, epoch]] = await this.#run(async () => {
      const replies = await this.#redis.multi().set(key, String(Math.floor(now / 1000)), 'NX').get(key).exec()
      if (replies === null) throw new Error('the epoch transaction was aborted')
      for (const [err] of replies) if (err !== null) throw err
      return replies as [[null, unknown], [null, unknown]]
    })
    if (typeof epoch !== 'string' || !/^\d+$/.test(epoch)) throw new DependencyUnavailableError('replay_cache', new Error(`unexpected epoch ${JSON.stringify(epoch)}`))
    return Number(epoch)
  }

  async ping(): Promise<void> {
    await this.#run(() => this.#redis.ping())
  }

  #run<T>(fn: () => Promise<T>): Promise<T> {
    return runRedis('replay_cache', fn)
  }
}
