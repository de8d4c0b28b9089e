import { randomUUID } from 'node:crypto'
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { RateLimiter } from '../../src/ratelimit/types.js'

export interface RateLimiterHarness {
  /** A fresh limiter with no buckets. */
  open(): Promise<RateLimiter>
  close(limiter: RateLimiter): Promise<void>
  teardown(): Promise<void>
}

/**
 * The RateLimiter contract: every implementation runs exactly this suite. Time is the caller's `now`,
 * so windows are crossed by passing a later `now`, not by waiting.
 */
export function rateLimiterContract(name: string, harness: () => RateLimiterHarness): void {
  describe(`RateLimiter contract: ${name}`, () => {
    let h: RateLimiterHarness
    let limiter: RateLimiter
    let bucket: string
    const T = Date.now()

    beforeEach(async () => {
      h ??= harness()
      limiter = await h.open()
      bucket = `key:mk${randomUUID()}`
    })
    afterEach(async () => { await h.close(limiter) })
    afterAll(async () => { await h?.teardown() })

    it('allows `limit` hits in a window, counting down, then refuses until the window ends', async () => {
      expect(await limiter.hit(bucket, 3, 60, T)).toEqual({ allowed: true, remaining: 2, retryAfterSeconds: 60 })
      expect(await limiter.hit(bucket, 3, 60, T + 100)).toEqual({ allowed: true, remaining: 1, retryAfterSeconds: 60 })
      expect(await limiter.hit(bucket, 3, 60, T + 200)).toEqual({ allowed: true, remaining: 0, retryAfterSeconds: 60 })
      expect(await limiter.hit(bucket, 3, 60, T + 1000)).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 59 })
      expect(await limiter.hit(bucket, 3, 60, T + 59_999)).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 1 })
    })

    it('does not count refused hits: the budget is whole again when the window ends', async () => {
      for (let i = 0; i < 2; i++) expect((await limiter.hit(bucket, 2, 10, T + i)).allowed).toBe(true)
      for (let i = 0; i < 20; i++) expect((await limiter.hit(bucket, 2, 10, T + 100 + i)).allowed).toBe(false)
      expect(await limiter.hit(bucket, 2, 10, T + 10_000)).toEqual({ allowed: true, remaining: 1, retryAfterSeconds: 10 })
    })

    it('anchors a window at the first hit after the previous one ended', async () => {
      expect((await limiter.hit(bucket, 1, 60, T)).allowed).toBe(true)
      // Idle for a window and a half: the next window starts now, a full window long.
      expect(await limiter.hit(bucket, 1, 60, T + 90_000)).toEqual({ allowed: true, remaining: 0, retryAfterSeconds: 60 })
      expect(await limiter.hit(bucket, 1, 60, T + 120_000)).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 30 })
      expect((await limiter.hit(bucket, 1, 60, T + 150_000)).allowed).toBe(true)
    })

    it('keeps buckets apart', async () => {
      expect((await limiter.hit(bucket, 1, 60, T)).allowed).toBe(true)
      expect((await limiter.hit(bucket, 1, 60, T)).allowed).toBe(false)
      expect((await limiter.hit(`${bucket}-other`, 1, 60, T)).allowed).toBe(true)
      expect((await limiter.hit('authfail:127.0.0.1', 1, 60, T)).allowed).toBe(true)
      expect((await limiter.hit('authfail:::1', 1, 60, T)).allowed).toBe(true)
    })

    it('applies a changed limit from the next hit', async () => {
      for (let i = 0; i < 3; i++) expect((await limiter.hit(bucket, 5, 60, T + i)).allowed).toBe(true)
      expect(await limiter.hit(bucket, 3, 60, T + 10)).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 60 })
      expect(await limiter.hit(bucket, 10, 60, T + 20)).toEqual({ allowed: true, remaining: 6, retryAfterSeconds: 60 })
    })

    it('keeps Retry-After between 1 s and the window, whatever the caller\'s clock', async () => {
      expect((await limiter.hit(bucket, 1, 5, T)).allowed).toBe(true)
      // A caller whose clock runs behind the one that started the window is not told to wait longer.
      expect(await limiter.hit(bucket, 1, 5, T - 3000)).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 5 })
      expect(await limiter.hit(bucket, 1, 5, T + 4999)).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 1 })
    })

    it('counts concurrent hits exactly', async () => {
      const results = await Promise.all(Array.from({ length: 50 }, async () => limiter.hit(bucket, 10, 60, T)))
      expect(results.filter((r) => r.allowed)).toHaveLength(10)
      expect(results.filter((r) => r.allowed).map((r) => r.remaining).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    })

    it('rejects malformed arguments', async () => {
      await expect(limiter.hit('', 1, 60, T)).rejects.toBeInstanceOf(TypeError)
      await expect(limiter.hit(bucket, 0, 60, T)).rejects.toBeInstanceOf(RangeError)
      await expect(limiter.hit(bucket, 1.5, 60, T)).rejects.toBeInstanceOf(RangeError)
      await expect(limiter.hit(bucket, 1, 0, T)).rejects.toBeInstanceOf(RangeError)
      await expect(limiter.hit(bucket, 1, 60, Number.NaN)).rejects.toThrow(/expected now to be unix milliseconds, got NaN/)
    })
  })
}
