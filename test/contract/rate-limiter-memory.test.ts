import { describe, expect, it } from 'vitest'
import { MemoryRateLimiter } from '../../src/ratelimit/memory.js'
import { rateLimiterContract } from './rate-limiter.contract.js'

rateLimiterContract('memory', () => ({
  async open() {
    return new MemoryRateLimiter()
  },
  async close() {},
  async teardown() {},
}))

describe('MemoryRateLimiter: bounded memory', () => {
  const T = Date.now()

  it('sweeps buckets whose window ended', async () => {
    const limiter = new MemoryRateLimiter()
    for (let i = 0; i < 1000; i++) await limiter.hit(`authfail:10.0.${i >> 8}.${i & 255}`, 5, 1, T)
    expect(limiter.size).toBe(1000)
    // Past the sweep interval and every window: one hit clears them all.
    await limiter.hit('key:mkfresh', 5, 1, T + 11_000)
    expect(limiter.size).toBe(1)
  })

  it('never holds more than maxBuckets, dropping the oldest when none has expired', async () => {
    const limiter = new MemoryRateLimiter({ maxBuckets: 100 })
    for (let i = 0; i < 1000; i++) await limiter.hit(`authfail:addr-${i}`, 5, 3600, T + i)
    expect(limiter.size).toBe(100)
    // The newest buckets kept their counts.
    expect(await limiter.hit('authfail:addr-999', 1, 3600, T + 1000)).toMatchObject({ allowed: false })
  })

  it('checks its options', () => {
    expect(() => new MemoryRateLimiter({ maxBuckets: 0 })).toThrow(/expected maxBuckets to be a positive integer, got 0/)
  })
})
