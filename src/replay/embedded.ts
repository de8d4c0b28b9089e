import type { Database } from 'lmdb'
import { DependencyUnavailableError } from '../errors/faults.js'
import type { EmbeddedDatabase } from '../stores/embedded/database.js'
import type { NonceClaim } from '../transport/types.js'
import { checkNonceClaim } from './claim.js'
import { checkMaxFutureSkew, DEFAULT_MAX_FUTURE_SKEW_SECONDS, type ClaimResult, type ReplayCache, type ReplayRules } from './types.js'

/** Expired nonces removed per sweep transaction, so a sweep never holds the write lock for long. */
const SWEEP_BATCH = 1000

/**
 * The nonce records on LMDB, shared by the replay cache and the embedded transport (which claims the
 * nonce inside its accept transaction). Named databases:
 *
 * - `nonces`: [keyId, nonce] -> expiry (unix ms). An expired record counts as absent.
 * - `nonce-expiry`: [expiry, keyId, nonce] -> true, so a sweep finds expired records in key order.
 * - `replay-meta`: 'epoch' -> unix seconds since which nonces are remembered.
 */
export class EmbeddedNonces {
  readonly #db: EmbeddedDatabase
  readonly #nonces: Database<number, [string, string]>
  readonly #expiry: Database<true, [number, string, string]>
  readonly #meta: Database<number, string>
  readonly #maxFutureSkewSeconds: number

  constructor(db: EmbeddedDatabase, options: { maxFutureSkewSeconds: number }) {
    this.#maxFutureSkewSeconds = checkMaxFutureSkew(options.maxFutureSkewSeconds)
    this.#db = db
    this.#nonces = db.root.openDB<number, [string, string]>({ name: 'nonces' })
    this.#expiry = db.root.openDB<true, [number, string, string]>({ name: 'nonce-expiry' })
    this.#meta = db.root.openDB<number, string>({ name: 'replay-meta' })
  }

  /**
   * Start-up: the epoch in force, set first if there is none. Call inside a write transaction. LMDB
   * does not forget, and one process holds the data directory (data-dir-lock.ts), so a missing epoch
   * means a new data directory: it starts at `now - skew`, and a request signed after the start is
   * never refused. There is no run_id here: a restored backup of the directory is not detected.
   */
  startEpochInTransaction(now: number): number {
    return this.#epoch(now, this.#maxFutureSkewSeconds)
  }

  /** Records the nonce, or says why not. Call inside a write transaction. */
  claimInTransaction(claim: NonceClaim): ClaimResult {
    // No epoch at claim time (a database the stores never started): remember from now, the safe side.
    const epoch = this.#epoch(claim.now, 0)
    if (claim.timestamp < epoch + this.#maxFutureSkewSeconds) return { outcome: 'before_epoch', epoch }
    const key: [string, string] = [claim.keyId, claim.nonce]
    const expiresAt = this.#nonces.get(key)
    if (expiresAt !== undefined && expiresAt > claim.now) return { outcome: 'replayed' }
    const newExpiry = claim.now + claim.ttlSeconds * 1000
    void this.#nonces.put(key, newExpiry)
    void this.#expiry.put([newExpiry, claim.keyId, claim.nonce], true)
    return { outcome: 'fresh' }
  }

  #epoch(now: number, backdateSeconds: number): number {
    let epoch = this.#meta.get('epoch')
    if (epoch === undefined) {
      epoch = Math.floor(now / 1000) - backdateSeconds
      void this.#meta.put('epoch', epoch)
    }
    return epoch
  }

  /** Deletes nonces that expired at or before `now`. Returns how many records were removed. */
  async sweep(now: number): Promise<number> {
    let removed = 0
    for (;;) {
      const batch = await this.#db.root.transaction(() => {
        const due = Array.from(this.#expiry.getKeys({ end: [Math.floor(now) + 1], limit: SWEEP_BATCH }))
        for (const [expiresAt, keyId, nonce] of due) {
          void this.#expiry.remove([expiresAt, keyId, nonce])
          // A later claim of an expired nonce wrote a newer expiry: that record is not due yet.
          if (this.#nonces.get([keyId, nonce]) !== expiresAt) continue
          void this.#nonces.remove([keyId, nonce])
          removed++
        }
        return due.length
      })
      if (batch < SWEEP_BATCH) return removed
    }
  }
}

/**
 * The replay cache on LMDB: every claim is one durable transaction. Expired nonces are swept by the
 * embedded transport (EmbeddedTransport.sweep), which shares these records.
 */
export class EmbeddedReplayCache implements ReplayCache {
  readonly rules: ReplayRules
  readonly #db: EmbeddedDatabase
  readonly #nonces: EmbeddedNonces

  /** @param options.maxFutureSkewSeconds see ReplayRules (default DEFAULT_MAX_FUTURE_SKEW_SECONDS). */
  constructor(db: EmbeddedDatabase, options: { maxFutureSkewSeconds?: number } = {}) {
    const maxFutureSkewSeconds = checkMaxFutureSkew(options.maxFutureSkewSeconds ?? DEFAULT_MAX_FUTURE_SKEW_SECONDS)
    // LMDB cannot evict: nothing to refuse claims for.
    this.rules = { maxFutureSkewSeconds, assertSafe: () => undefined }
    this.#db = db
    this.#nonces = new EmbeddedNonces(db, { maxFutureSkewSeconds })
  }

  async claim(claim: NonceClaim): Promise<ClaimResult> {
    checkNonceClaim(claim)
    try {
      return await this.#db.root.transaction(() => this.#nonces.claimInTransaction(claim))
    } catch (err) {
      throw new DependencyUnavailableError('replay_cache', err)
    }
  }

  async startEpoch(now: number): Promise<number> {
    try {
      return await this.#db.root.transaction(() => this.#nonces.startEpochInTransaction(now))
    } catch (err) {
      throw new DependencyUnavailableError('replay_cache', err)
    }
  }

  async ping(): Promise<void> {
    try {
      this.#db.root.getStats()
    } catch (err) {
      throw new DependencyUnavailableError('replay_cache', err)
    }
  }

  async close(): Promise<void> {
    // The database is the caller's.
  }
}
