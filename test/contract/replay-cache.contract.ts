import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ReplayCache } from '../../src/replay/types.js'
import type { NonceClaim } from '../../src/transport/types.js'

/** The future skew every contract cache is opened with. */
export const CONTRACT_SKEW_SECONDS = 5

export interface ReplayCacheHarness {
  /** A fresh, empty replay cache with `maxFutureSkewSeconds: CONTRACT_SKEW_SECONDS`, not yet started. */
  open(): Promise<ReplayCache>
  /** Removes the epoch records behind the cache's back: the store lost everything while the service ran. */
  forgetEpoch(cache: ReplayCache): Promise<void>
  /**
   * Makes the store look like one that may have lost writes since it was last checked (Redis: the
   * run_id recorded beside the epoch is not the server's). Absent where there is no such signal (LMDB).
   */
  loseWrites?(cache: ReplayCache): Promise<void>
  /**
   * Lets `seconds` pass for the cache and returns the server time (unix ms) to claim with afterwards:
   * LMDB compares expiry with the claim's `now`, Redis expires keys by its own clock and must be waited for.
   */
  elapse(seconds: number): Promise<number>
  close(cache: ReplayCache): Promise<void>
  teardown(): Promise<void>
}

function claim(overrides: Partial<NonceClaim> = {}): NonceClaim {
  const now = overrides.now ?? Date.now()
  return { keyId: 'mkalpha', nonce: randomUUID(), target: 'alpha', timestamp: Math.floor(now / 1000), ttlSeconds: 600, now, ...overrides }
}

/** The ReplayCache contract: every implementation runs exactly this suite. */
export function replayCacheContract(name: string, harness: () => ReplayCacheHarness): void {
  describe(`ReplayCache contract: ${name}`, () => {
    let h: ReplayCacheHarness
    let cache: ReplayCache

    let startedAt: number
    let startEpoch: number

    beforeEach(async () => {
      h ??= harness()
      cache = await h.open()
      startedAt = Date.now()
      startEpoch = await cache.startEpoch(startedAt)
    })
    afterEach(async () => { await h.close(cache) })
    afterAll(async () => { await h?.teardown() })

    const SKEW = CONTRACT_SKEW_SECONDS

    it('accepts a nonce once', async () => {
      const c = claim()
      expect(await cache.claim(c)).toEqual({ outcome: 'fresh' })
      expect(await cache.claim(c)).toEqual({ outcome: 'replayed' })
      expect(await cache.claim({ ...c, now: c.now + 1000, timestamp: c.timestamp + 1 }), 'whatever the timestamp').toEqual({ outcome: 'replayed' })
    })

    it('keeps nonces apart per key', async () => {
      const c = claim()
      expect(await cache.claim(c)).toEqual({ outcome: 'fresh' })
      expect(await cache.claim({ ...c, keyId: 'mkbeta' })).toEqual({ outcome: 'fresh' })
      expect(await cache.claim({ ...c, keyId: 'mkbeta' })).toEqual({ outcome: 'replayed' })
    })

    it('forgets a nonce after its TTL', async () => {
      const c = claim({ ttlSeconds: 1 })
      expect(await cache.claim(c)).toEqual({ outcome: 'fresh' })
      expect(await cache.claim(c)).toEqual({ outcome: 'replayed' })
      const later = await h.elapse(1.1)
      expect(await cache.claim({ ...c, now: later })).toEqual({ outcome: 'fresh' })
      expect(await cache.claim({ ...c, now: later })).toEqual({ outcome: 'replayed' })
    })

    it('a new store starts its epoch max-future-skew before the start: a request signed after the start is fresh even when claimed seconds later', async () => {
      const start = Math.floor(startedAt / 1000)
      expect(startEpoch).toBe(start - SKEW)
      expect(await cache.startEpoch(startedAt + 60_000), 'an epoch in force is kept').toBe(startEpoch)
      expect(await cache.claim(claim({ now: startedAt + 2500, timestamp: start }))).toEqual({ outcome: 'fresh' })
      expect(await cache.claim(claim({ now: startedAt + 2500, timestamp: start - 1 }))).toEqual({ outcome: 'before_epoch', epoch: startEpoch })
    })

    it('never lowers the epoch: a start with a clock behind keeps the epoch in force', async () => {
      expect(await cache.startEpoch(startedAt - 3_600_000)).toBe(startEpoch)
    })

    it('after losing its epoch, refuses claims signed before the epoch the first claim set plus the max future skew, recording nothing', async () => {
      await h.forgetEpoch(cache)
      const now = Date.now()
      const epoch = Math.floor(now / 1000)
      const early = claim({ now, timestamp: epoch - 30 })
      expect(await cache.claim(early)).toEqual({ outcome: 'before_epoch', epoch })
      expect(await cache.claim({ ...early, now: now + 5000 }), 'the epoch does not move').toEqual({ outcome: 'before_epoch', epoch })
      // A client whose clock ran up to SKEW fast signed this before the loss.
      expect(await cache.claim(claim({ now: now + 5000, timestamp: epoch + SKEW - 1 }))).toEqual({ outcome: 'before_epoch', epoch })
      expect(await cache.claim({ ...early, timestamp: epoch + SKEW }), 'the refused nonce was not recorded').toEqual({ outcome: 'fresh' })
    })

    it('a possible loss of writes moves the epoch to now (where the store can tell): a request signed before it by a client up to skew fast is refused', async (ctx) => {
      if (h.loseWrites === undefined) return ctx.skip()
      const before = claim()
      expect(await cache.claim(before)).toEqual({ outcome: 'fresh' })
      await h.loseWrites(cache)
      const detectedAt = before.now + 2000
      const epoch = Math.floor(detectedAt / 1000)
      expect(await cache.startEpoch(detectedAt)).toBe(epoch)
      const fast = claim({ now: detectedAt, timestamp: Math.floor(before.now / 1000) + SKEW })
      expect(await cache.claim(fast), 'signed before the loss, clock SKEW fast').toEqual({ outcome: 'before_epoch', epoch })
      expect(await cache.claim(claim({ now: detectedAt, timestamp: epoch + SKEW }))).toEqual({ outcome: 'fresh' })
      // A second gateway whose clock is behind checks too: it records the run_id, never lowers the epoch.
      await h.loseWrites(cache)
      expect(await cache.startEpoch(before.now)).toBe(epoch)
      expect(await cache.startEpoch(detectedAt + 60_000), 'checked since: kept').toBe(epoch)
    })

    it('answers ping while healthy', async () => {
      await expect(cache.ping()).resolves.toBeUndefined()
    })

    it('rejects malformed claims', async () => {
      await expect(cache.claim(claim({ keyId: '' }))).rejects.toBeInstanceOf(TypeError)
      await expect(cache.claim(claim({ ttlSeconds: 1.5 }))).rejects.toBeInstanceOf(RangeError)
      await expect(cache.claim(claim({ timestamp: Number.NaN }))).rejects.toBeInstanceOf(RangeError)
    })
  })
}
