import type { NonceClaim } from '../transport/types.js'

export type ClaimResult =
  | { outcome: 'fresh' }
  | { outcome: 'replayed' }
  | { outcome: 'before_epoch'; epoch: number }

/** MECHA_MAX_FUTURE_SKEW_SECONDS's default: how far ahead of server time a timestamp may be. */
export const DEFAULT_MAX_FUTURE_SKEW_SECONDS = 30

/**
 * What a transport's accept needs from the replay cache it claims nonces for, so that a claim through
 * either follows one rule with one value: the cache hands its `rules` to the transport.
 */
export interface ReplayRules {
  /**
   * Claims are refused as `before_epoch` while `timestamp < epoch + maxFutureSkewSeconds`. The gateway
   * refuses `timestamp > now + maxFutureSkewSeconds` (check-timestamp), so a request signed before a
   * loss at time L carries a timestamp below L + skew, however fast its client's clock: refused.
   */
  readonly maxFutureSkewSeconds: number
  /**
   * Throws (ReplayCacheUnsafeError, or DependencyUnavailableError while a reconnected Redis is not yet
   * verified) when no claim may run. Synchronous: it reads state kept by connect-time checks, so the
   * hot path costs no round trip.
   */
  assertSafe(): void
}

/**
 * The replay cache: each (key id, nonce) is accepted once. Claims are recorded only after the
 * request's credential verified, so unauthenticated traffic can neither fill the cache nor burn a
 * runtime's nonces.
 *
 * The cache also remembers since when it has been remembering (its epoch, unix seconds). A request
 * signed before the epoch plus the maximum future skew could be a replay of one recorded before the
 * cache lost writes, so it is refused as `before_epoch`. The epoch moves to "now" (never back) whenever
 * the cache may have lost writes: on Redis, a different server run_id than the one recorded beside the
 * epoch (a restart, a restore, a failover), a maxmemory-policy that allowed evictions, or a missing
 * epoch. `startEpoch` runs those checks at start (and Redis reruns them on every reconnect and
 * periodically). A brand-new store (no epoch, nothing recorded) starts its epoch at `now - skew`, so
 * a request signed after the start is never refused.
 *
 * Implementations throw DependencyUnavailableError('replay_cache') when they cannot answer, and
 * ReplayCacheUnsafeError when they must not (see ReplayRules.assertSafe).
 */
export interface ReplayCache {
  readonly rules: ReplayRules
  claim(claim: NonceClaim): Promise<ClaimResult>
  /**
   * Start-up (and Redis reconnect) checks: sets the epoch as described above and returns the epoch in
   * force. Throws ReplayCacheUnsafeError when the store may evict nonces.
   */
  startEpoch(now: number): Promise<number>
  ping(): Promise<void>
  /** Stops background checks; does not close connections or databases it was given. */
  close(): Promise<void>
}

export function checkMaxFutureSkew(seconds: number): number {
  if (!Number.isSafeInteger(seconds) || seconds < 0) throw new RangeError(`expected maxFutureSkewSeconds to be a non-negative integer, got ${seconds}`)
  return seconds
}
