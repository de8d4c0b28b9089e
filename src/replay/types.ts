import type { NonceClaim } from '../transport/types.js'

export type ClaimResult =
  | { outcome: 'fresh' }
  | { outcome: 'replayed' }
  | { outcome: 'before_epoch'; epoch: number }

/**
 * The replay cache: each (key id, nonce) is accepted once. Claims are recorded only after the
 * request's credential verified, so unauthenticated traffic can neither fill the cache nor burn a
 * runtime's nonces.
 *
 * The cache also remembers since when it has been remembering (its epoch, unix seconds). A request
 * whose timestamp is older than the epoch could be a replay of one recorded before the cache lost its
 * memory (a Redis that restarted empty), so it is refused as `before_epoch`. Opening the stores starts
 * the epoch (`startEpoch`), so a new deployment remembers from its start and a request signed after it
 * started is never refused as older than the cache; a cache that loses its memory later gets a new
 * epoch from the first claim after the loss.
 *
 * Implementations throw DependencyUnavailableError('replay_cache') when they cannot answer.
 */
export interface ReplayCache {
  claim(claim: NonceClaim): Promise<ClaimResult>
  /** Sets the epoch to `now` (unix ms, floored to seconds) unless one is set; returns the epoch in force. */
  startEpoch(now: number): Promise<number>
  ping(): Promise<void>
}
