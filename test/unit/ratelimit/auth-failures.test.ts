import { describe, expect, it, vi } from 'vitest'
import { DependencyUnavailableError } from '../../../src/errors/faults.js'
import { AuthFailureGuard, keyIdentity, operatorTokenIdentity, type AuthAttempt, type AuthThrottled } from '../../../src/ratelimit/auth-failures.js'
import { MemoryRateLimiter } from '../../../src/ratelimit/memory.js'
import type { RateLimiter } from '../../../src/ratelimit/types.js'

const T = 1_800_000_000_000
const log = () => ({ warn: vi.fn<(details: object, message: string) => void>() })

function admitted(result: AuthAttempt | AuthThrottled): AuthAttempt {
  if ('retryAfterSeconds' in result) throw new Error(`expected an admitted attempt, got throttled for ${result.retryAfterSeconds} s`)
  return result
}
/** The wait when `admit` refuses, else undefined. */
function throttledFor(guard: AuthFailureGuard, address: string, now: number, identity?: string): number | undefined {
  const result = guard.admit(address, identity, now)
  if ('retryAfterSeconds' in result) return result.retryAfterSeconds
  result.release()
  return undefined
}
async function fail(guard: AuthFailureGuard, address: string, now: number, l = log(), identity?: string): Promise<void> {
  await admitted(guard.admit(address, identity, now)).failed(l)
}

describe('AuthFailureGuard', () => {
  it('throttles an address once it made `limit` failures, until the window ends', async () => {
    const guard = new AuthFailureGuard(new MemoryRateLimiter(), { limit: 3, windowSeconds: 10 })
    const l = log()
    for (let i = 0; i < 2; i++) await fail(guard, '192.0.2.1', T + i * 1000, l)
    expect(throttledFor(guard, '192.0.2.1', T + 2000)).toBeUndefined()
    await fail(guard, '192.0.2.1', T + 2000, l)
    expect(throttledFor(guard, '192.0.2.1', T + 2000)).toBe(8)
    expect(throttledFor(guard, '192.0.2.1', T + 9500)).toBe(1)
    expect(throttledFor(guard, '192.0.2.2', T + 2000), 'other addresses').toBeUndefined()
    expect(throttledFor(guard, '192.0.2.1', T + 10_000)).toBeUndefined()
    expect(l.warn).toHaveBeenCalledTimes(1)
    expect(l.warn.mock.calls[0]?.[1]).toMatch(/throttled/)
  })

  it('regression: counting after an await let a concurrent burst past the limit; attempts in flight take the budget now', () => {
    const limiter: RateLimiter = { hit: vi.fn() }
    const guard = new AuthFailureGuard(limiter, { limit: 10, windowSeconds: 60 })
    const results = Array.from({ length: 300 }, () => guard.admit('192.0.2.1', undefined, T))
    const attempts = results.filter((r): r is AuthAttempt => !('retryAfterSeconds' in r))
    expect(attempts).toHaveLength(10)
    expect(results.filter((r) => 'retryAfterSeconds' in r && r.retryAfterSeconds === 1)).toHaveLength(290)
    // A slot that settles without a failure is free again; settling twice frees it once.
    attempts[0]?.release()
    attempts[0]?.release()
    attempts[0]?.succeeded()
    expect(throttledFor(guard, '192.0.2.1', T)).toBeUndefined()
    expect(throttledFor(guard, '192.0.2.1', T), 'released again by the helper').toBeUndefined()
    expect(limiter.hit).not.toHaveBeenCalled()
  })

  it('a failure counts at once, before its shared round trip answers', () => {
    let answer!: () => void
    const limiter: RateLimiter = { hit: async () => new Promise((resolve) => { answer = () => resolve({ allowed: true, remaining: 9, retryAfterSeconds: 60 }) }) }
    const guard = new AuthFailureGuard(limiter, { limit: 2, windowSeconds: 60 })
    void admitted(guard.admit('192.0.2.1', undefined, T)).failed(log())
    void admitted(guard.admit('192.0.2.1', undefined, T)).failed(log())
    expect(throttledFor(guard, '192.0.2.1', T + 1)).toBe(60)
    answer()
  })

  it('learns from the shared count that another process throttled the address', async () => {
    const shared = new MemoryRateLimiter()
    const [here, there] = [new AuthFailureGuard(shared, { limit: 2, windowSeconds: 60 }), new AuthFailureGuard(shared, { limit: 2, windowSeconds: 60 })]
    await fail(there, '198.51.100.9', T)
    await fail(there, '198.51.100.9', T + 1)
    expect(throttledFor(there, '198.51.100.9', T + 2)).toBe(60)
    expect(throttledFor(here, '198.51.100.9', T + 2), 'no I/O on the way in: not known here yet').toBeUndefined()
    await fail(here, '198.51.100.9', T + 3)
    expect(throttledFor(here, '198.51.100.9', T + 4)).toBe(60)
  })

  it('learns the shared count below the limit too: other processes\' failures take this one\'s budget', async () => {
    const shared = new MemoryRateLimiter()
    const [here, there] = [new AuthFailureGuard(shared, { limit: 4, windowSeconds: 60 }), new AuthFailureGuard(shared, { limit: 4, windowSeconds: 60 })]
    for (let i = 0; i < 2; i++) await fail(there, '198.51.100.9', T + i)
    await fail(here, '198.51.100.9', T + 2)
    // Three failures in the shared bucket: one attempt left here, not three.
    const next = admitted(here.admit('198.51.100.9', undefined, T + 3))
    expect(throttledFor(here, '198.51.100.9', T + 3)).toBe(1)
    next.release()
  })

  it('buckets IPv6 per /64 (configurable) and IPv4-mapped as IPv4', async () => {
    const guard = new AuthFailureGuard(new MemoryRateLimiter(), { limit: 2, windowSeconds: 60 })
    await fail(guard, '2001:db8:1:2::1', T)
    await fail(guard, '2001:db8:1:2::2', T)
    expect(throttledFor(guard, '2001:db8:1:2:ffff::1', T)).toBe(60)
    expect(throttledFor(guard, '2001:db8:1:3::1', T)).toBeUndefined()
    await fail(guard, '::ffff:192.0.2.7', T)
    await fail(guard, '192.0.2.7', T)
    expect(throttledFor(guard, '::ffff:192.0.2.7', T)).toBe(60)
    const per128 = new AuthFailureGuard(new MemoryRateLimiter(), { limit: 1, windowSeconds: 60, ipv6PrefixLength: 128 })
    await fail(per128, '2001:db8:1:2::1', T)
    expect(throttledFor(per128, '2001:db8:1:2::2', T)).toBeUndefined()
  })

  it('a credential that authenticated from the address is still evaluated there once it is throttled, for 24 hours', async () => {
    const guard = new AuthFailureGuard(new MemoryRateLimiter(), { limit: 2, windowSeconds: 60 })
    const key = keyIdentity('mkaaaaaaaaaaaaaaaaaaaaaaaa')
    const operator = operatorTokenIdentity(`adm_${'a'.repeat(40)}`)
    admitted(guard.admit('192.0.2.1', key, T)).succeeded()
    admitted(guard.admit('192.0.2.1', operator, T)).succeeded()
    for (let i = 0; i < 2; i++) await fail(guard, '192.0.2.1', T)
    expect(throttledFor(guard, '192.0.2.1', T + 1), 'a fresh guess').toBe(60)
    expect(throttledFor(guard, '192.0.2.1', T + 1, keyIdentity('mkbbbbbbbbbbbbbbbbbbbbbbbb')), 'a never-seen key').toBe(60)
    expect(throttledFor(guard, '192.0.2.1', T + 1, operatorTokenIdentity('another token')), 'a never-seen token').toBe(60)
    expect(throttledFor(guard, '192.0.2.1', T + 1, key)).toBeUndefined()
    expect(throttledFor(guard, '192.0.2.1', T + 1, operator)).toBeUndefined()
    expect(throttledFor(guard, '192.0.2.9', T + 1, operator), 'known from another address only').toBeUndefined()
    await fail(guard, '192.0.2.9', T + 1)
    await fail(guard, '192.0.2.9', T + 1)
    expect(throttledFor(guard, '192.0.2.9', T + 2, operator)).toBe(60)
    // Known attempts take no in-flight slot: many at once do not refuse a known one.
    const many = Array.from({ length: 50 }, () => admitted(guard.admit('192.0.2.1', key, T + 2)))
    expect(throttledFor(guard, '192.0.2.1', T + 2, operator)).toBeUndefined()
    for (const a of many) a.succeeded()
    expect(throttledFor(guard, '192.0.2.1', T + 24 * 3600 * 1000 - 1, key)).toBeUndefined()
    await fail(guard, '192.0.2.1', T + 24 * 3600 * 1000 + 1)
    await fail(guard, '192.0.2.1', T + 24 * 3600 * 1000 + 1)
    expect(throttledFor(guard, '192.0.2.1', T + 24 * 3600 * 1000 + 2, key), 'forgotten after 24 hours').toBe(60)
  })

  it('remembers at most maxKnownCredentials, the least recently authenticated going first', async () => {
    const guard = new AuthFailureGuard(new MemoryRateLimiter(), { limit: 1, windowSeconds: 60, maxKnownCredentials: 2 })
    for (const id of ['a', 'b', 'c']) admitted(guard.admit('192.0.2.1', `key:${id}`, T)).succeeded()
    await fail(guard, '192.0.2.1', T)
    expect(throttledFor(guard, '192.0.2.1', T, 'key:a'), 'evicted').toBe(60)
    expect(throttledFor(guard, '192.0.2.1', T, 'key:b')).toBeUndefined()
    expect(throttledFor(guard, '192.0.2.1', T, 'key:c')).toBeUndefined()
  })

  it('the operator identity is a truncated SHA-256, not the token', () => {
    const token = `adm_${'a'.repeat(40)}`
    expect(operatorTokenIdentity(token)).toMatch(/^operator:[0-9a-f]{32}$/)
    expect(operatorTokenIdentity(token)).not.toContain(token)
    expect(operatorTokenIdentity(token)).not.toBe(operatorTokenIdentity(`${token}b`))
  })

  it('does nothing when the limit is 0', async () => {
    const limiter: RateLimiter = { hit: vi.fn() }
    const guard = new AuthFailureGuard(limiter, { limit: 0, windowSeconds: 60 })
    for (let i = 0; i < 100; i++) await fail(guard, '192.0.2.1', T)
    expect(guard.enabled).toBe(false)
    expect(throttledFor(guard, '192.0.2.1', T)).toBeUndefined()
    expect(limiter.hit).not.toHaveBeenCalled()
  })

  it('never rejects: a limiter fault leaves the failure uncounted in the shared bucket and is logged', async () => {
    const limiter: RateLimiter = { hit: async () => { throw new DependencyUnavailableError('replay_cache') } }
    const guard = new AuthFailureGuard(limiter, { limit: 2, windowSeconds: 60 })
    const l = log()
    await expect(admitted(guard.admit('192.0.2.1', undefined, T)).failed(l)).resolves.toBeUndefined()
    expect(throttledFor(guard, '192.0.2.1', T)).toBeUndefined()
    expect(l.warn).toHaveBeenCalledWith(expect.objectContaining({ err: expect.any(DependencyUnavailableError) }), expect.stringMatching(/not counted/))
  })

  it('checks its options', () => {
    const limiter = new MemoryRateLimiter()
    expect(() => new AuthFailureGuard(limiter, { limit: -1, windowSeconds: 60 })).toThrow(/expected limit to be a non-negative integer, got -1/)
    expect(() => new AuthFailureGuard(limiter, { limit: 5, windowSeconds: 0 })).toThrow(/expected windowSeconds to be a positive integer, got 0/)
    expect(() => new AuthFailureGuard(limiter, { limit: 5, windowSeconds: 60, ipv6PrefixLength: 129 })).toThrow(/expected ipv6PrefixLength to be an integer from 0 to 128, got 129/)
    expect(() => new AuthFailureGuard(limiter, { limit: 5, windowSeconds: 60, maxKnownCredentials: 0 })).toThrow(/expected maxEntries to be a positive integer, got 0/)
    expect(() => new AuthFailureGuard(undefined as unknown as RateLimiter, { limit: 5, windowSeconds: 60 })).toThrow(TypeError)
  })
})
