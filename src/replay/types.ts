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
 * memory (a Redis that restarted empty), so it is refused as `before_epoch`.
 *
 * Implementations throw DependencyUnavailableError('replay_cache') when they cannot answer.
 */
export interface ReplayCache {
  claim(claim: NonceClaim): Promise<ClaimResult>
  ping(): Promise<void>
}
