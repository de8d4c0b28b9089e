import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../../src/config/load.js'
import { AuthFailureGuard, throttledRefusal, type AuthAttempt } from '../../../src/ratelimit/auth-failures.js'
import { MemoryRateLimiter } from '../../../src/ratelimit/memory.js'

/** Issue 11: a developer iterating on signing code is not locked out of everything, and is told what to change. */
const log = { warn: () => undefined }

async function failuresAllowed(guard: AuthFailureGuard, address: string, now: number): Promise<number> {
  let n = 0
  for (;;) {
    const admitted = guard.admit(address, undefined, now)
    if ('retryAfterSeconds' in admitted) return n
    await (admitted as AuthAttempt).failed(log)
    n++
    if (n > 1000) throw new Error('never throttled')
  }
}

describe('the failed-authentication guard in development', () => {
  it('loopback clients get their own limit; others keep the configured one', async () => {
    const guard = new AuthFailureGuard(new MemoryRateLimiter(), { limit: 2, windowSeconds: 60, loopbackLimit: 5 })
    expect(await failuresAllowed(guard, '127.0.0.1', 1_000)).toBe(5)
    expect(await failuresAllowed(guard, '::1', 1_000)).toBe(5)
    expect(await failuresAllowed(guard, '192.0.2.7', 1_000)).toBe(2)
  })

  it('the 429 names the variable to change when a hint is configured', () => {
    const guard = new AuthFailureGuard(new MemoryRateLimiter(), { limit: 0, windowSeconds: 60 })
    expect(guard.enabled).toBe(false)
    const problem = throttledRefusal({ retryAfterSeconds: 3, hint: '; MECHA_AUTH_FAILURE_LIMIT allows 30 per 60 s' })
    expect(problem.detail).toContain('MECHA_AUTH_FAILURE_LIMIT')
  })

  it('configuration: 300 for loopback in development while unset; the configured value otherwise', () => {
    expect(loadConfig({}).authFailureLoopbackLimit).toBe(300)
    expect(loadConfig({ MECHA_AUTH_FAILURE_LIMIT: '7' }).authFailureLoopbackLimit).toBe(7)
    const prod = loadConfig({ NODE_ENV: 'production', MECHA_TLS: 'proxy', MECHA_MASTER_KEY: 'a'.repeat(64), MECHA_OPERATOR_TOKENS_JSON: JSON.stringify({ [`adm_${'a'.repeat(40)}`]: 'alice' }) })
    expect(prod.authFailureLoopbackLimit).toBe(prod.authFailureLimit)
  })
})
