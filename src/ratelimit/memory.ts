import type { RateLimiter, RateLimitResult } from './types.js'
import { checkHit, windowEnded, windowResult, type WindowState } from './window.js'

/** Buckets kept at most; beyond it expired ones are swept, then the oldest dropped. */
export const DEFAULT_MAX_BUCKETS = 100_000
/** Expired buckets are swept at most this often on the hit path (one pass over the map). */
const SWEEP_INTERVAL_MS = 10_000

interface Bucket extends WindowState {
  /** When the window ends (unix ms): past it, the bucket holds nothing worth keeping. */
  expires: number
}

/**
 * The rate limiter for the embedded, single-process mode: a map from bucket to its window, in this
 * process's memory (a restart forgets the counts, as it forgets nothing else that matters: limits
 * are short). Memory is bounded: buckets whose window ended are swept every SWEEP_INTERVAL_MS, and
 * past `maxBuckets` (a flood of distinct client addresses) the oldest bucket is dropped, which can
 * only ever allow a request, never refuse one wrongly.
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly #buckets = new Map<string, Bucket>()
  readonly #maxBuckets: number
  #nextSweep = 0

  /** @param options.maxBuckets buckets kept at most (default DEFAULT_MAX_BUCKETS). */
  constructor(options: { maxBuckets?: number } = {}) {
    const maxBuckets = options.maxBuckets ?? DEFAULT_MAX_BUCKETS
    if (!Number.isSafeInteger(maxBuckets) || maxBuckets <= 0) throw new RangeError(`expected maxBuckets to be a positive integer, got ${maxBuckets}`)
    this.#maxBuckets = maxBuckets
  }

  async hit(bucket: string, limit: number, windowSeconds: number, now: number): Promise<RateLimitResult> {
    checkHit(bucket, limit, windowSeconds, now)
    if (now >= this.#nextSweep) this.#sweep(now)
    const windowMs = windowSeconds * 1000
    let state = this.#buckets.get(bucket)
    if (state === undefined || windowEnded(state, windowMs, now)) {
      state = { start: now, count: 0, expires: now + windowMs }
      // Re-inserted, so the map's order stays oldest window first for the overflow eviction.
      this.#buckets.delete(bucket)
      this.#buckets.set(bucket, state)
      if (this.#buckets.size > this.#maxBuckets) this.#evictOverflow(now)
    }
    if (state.count >= limit) return windowResult(false, state.start, state.count, limit, windowSeconds, now)
    state.count++
    // The window may have changed length since it started (a key's policy was updated).
    state.expires = state.start + windowMs
    return windowResult(true, state.start, state.count, limit, windowSeconds, now)
  }

  /** How many buckets are held (for tests of the memory bound). */
  get size(): number {
    return this.#buckets.size
  }

  #sweep(now: number): void {
    for (const [bucket, state] of this.#buckets) if (state.expires <= now) this.#buckets.delete(bucket)
    this.#nextSweep = now + SWEEP_INTERVAL_MS
  }

  #evictOverflow(now: number): void {
    this.#sweep(now)
    for (const bucket of this.#buckets.keys()) {
      if (this.#buckets.size <= this.#maxBuckets) return
      this.#buckets.delete(bucket)
    }
  }
}
