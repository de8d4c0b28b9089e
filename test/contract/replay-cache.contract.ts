import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ReplayCache } from '../../src/replay/types.js'
import type { NonceClaim } from '../../src/transport/types.js'

export interface ReplayCacheHarness {
  /** A fresh, empty replay cache. */
  open(): Promise<ReplayCache>
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
  return { keyId: 'mkalpha', nonce: randomUUID(), timestamp: Math.floor(now / 1000), ttlSeconds: 600, now, ...overrides }
}

/** The ReplayCache contract: every implementation runs exactly this suite. */
export function replayCacheContract(name: string, harness: () => ReplayCacheHarness): void {
  describe(`ReplayCache contract: ${name}`, () => {
    let h: ReplayCacheHarness
    let cache: ReplayCache

    beforeEach(async () => {
      h ??= harness()
      cache = await h.open()
    })
    afterEach(async () => { await h.close(cache) })
    afterAll(async () => { await h?.teardown() })

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

    it('startEpoch sets the epoch once: a request signed after the start is fresh even when claimed seconds later', async () => {
      const start = Date.now()
      const epoch = Math.floor(start / 1000)
      expect(await cache.startEpoch(start)).toBe(epoch)
      expect(await cache.startEpoch(start + 60_000), 'an epoch in force is kept').toBe(epoch)
      expect(await cache.claim(claim({ now: start + 2500, timestamp: epoch }))).toEqual({ outcome: 'fresh' })
      expect(await cache.claim(claim({ now: start + 2500, timestamp: epoch - 1 }))).toEqual({ outcome: 'before_epoch', epoch })
    })

    it('refuses claims older than the epoch the first claim set, recording nothing', async () => {
      const now = Date.now()
      const epoch = Math.floor(now / 1000)
      const early = claim({ now, timestamp: epoch - 30 })
      expect(await cache.claim(early)).toEqual({ outcome: 'before_epoch', epoch })
      expect(await cache.claim({ ...early, now: now + 5000 }), 'the epoch does not move').toEqual({ outcome: 'before_epoch', epoch })
      expect(await cache.claim(claim({ now: now + 5000, timestamp: epoch - 1 }))).toEqual({ outcome: 'before_epoch', epoch })
      expect(await cache.claim({ ...early, timestamp: epoch }), 'the refused nonce was not recorded').toEqual({ outcome: 'fresh' })
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
