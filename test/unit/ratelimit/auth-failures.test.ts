import { describe, expect, it, vi } from 'vitest'
import { DependencyUnavailableError } from '../../../src/errors/faults.js'
import { AuthFailureGuard } from '../../../src/ratelimit/auth-failures.js'
import { MemoryRateLimiter } from '../../../src/ratelimit/memory.js'
import type { RateLimiter } from '../../../src/ratelimit/types.js'

const T = 1_800_000_000_000
const log = () => ({ warn: vi.fn<(details: object, message: string) => void>() })

describe('AuthFailureGuard', () => {
  it('throttles an address once it made `limit` failures, until the window ends', async () => {
    const guard = new AuthFailureGuard(new MemoryRateLimiter(), { limit: 3, windowSeconds: 10 })
    const l = log()
    for (let i = 0; i < 2; i++) await guard.recordFailure('192.0.2.1', T + i * 1000, l)
    expect(guard.throttledFor('192.0.2.1', T + 2000)).toBeUndefined()
    await guard.recordFailure('192.0.2.1', T + 2000, l)
    expect(guard.throttledFor('192.0.2.1', T + 2000)).toBe(8)
    expect(guard.throttledFor('192.0.2.1', T + 9500)).toBe(1)
    expect(guard.throttledFor('192.0.2.2', T + 2000), 'other addresses').toBeUndefined()
    expect(guard.throttledFor('192.0.2.1', T + 10_000)).toBeUndefined()
    expect(l.warn).toHaveBeenCalledTimes(1)
    expect(l.warn.mock.calls[0]?.[1]).toMatch(/throttled/)
  })

  it('learns from the shared count that another process throttled the address', async () => {
    const shared = new MemoryRateLimiter()
    const [here, there] = [new AuthFailureGuard(shared, { limit: 2, windowSeconds: 60 }), new AuthFailureGuard(shared, { limit: 2, windowSeconds: 60 })]
    await there.recordFailure('198.51.100.9', T, log())
    await there.recordFailure('198.51.100.9', T + 1, log())
    expect(there.throttledFor('198.51.100.9', T + 2)).toBe(60)
    expect(here.throttledFor('198.51.100.9', T + 2), 'no I/O on the way in: not known here yet').toBeUndefined()
    await here.recordFailure('198.51.100.9', T + 3, log())
    expect(here.throttledFor('198.51.100.9', T + 4)).toBe(60)
  })

  it('does nothing when the limit is 0', async () => {
    const limiter: RateLimiter = { hit: vi.fn() }
    const guard = new AuthFailureGuard(limiter, { limit: 0, windowSeconds: 60 })
    for (let i = 0; i < 100; i++) await guard.recordFailure('192.0.2.1', T, log())
    expect(guard.enabled).toBe(false)
    expect(guard.throttledFor('192.0.2.1', T)).toBeUndefined()
    expect(limiter.hit).not.toHaveBeenCalled()
  })

  it('never rejects: a limiter fault leaves the failure uncounted and is logged', async () => {
    const limiter: RateLimiter = { hit: async () => { throw new DependencyUnavailableError('replay_cache') } }
    const guard = new AuthFailureGuard(limiter, { limit: 1, windowSeconds: 60 })
    const l = log()
    await expect(guard.recordFailure('192.0.2.1', T, l)).resolves.toBeUndefined()
    expect(guard.throttledFor('192.0.2.1', T)).toBeUndefined()
    expect(l.warn).toHaveBeenCalledWith(expect.objectContaining({ err: expect.any(DependencyUnavailableError) }), expect.stringMatching(/not counted/))
  })

  it('checks its options', () => {
    const limiter = new MemoryRateLimiter()
    expect(() => new AuthFailureGuard(limiter, { limit: -1, windowSeconds: 60 })).toThrow(/expected limit to be a non-negative integer, got -1/)
    expect(() => new AuthFailureGuard(limiter, { limit: 5, windowSeconds: 0 })).toThrow(/expected windowSeconds to be a positive integer, got 0/)
    expect(() => new AuthFailureGuard(undefined as unknown as RateLimiter, { limit: 5, windowSeconds: 60 })).toThrow(TypeError)
  })
})
