import { randomBytes } from 'node:crypto'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { formatToken } from '../../src/crypto/token.js'
import { DependencyUnavailableError } from '../../src/errors/faults.js'
import { OPERATORS, bearer } from '../helpers/app.js'
import { gatewayHarness, type GatewayHarness } from '../helpers/gateway.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'
import type { RuntimeCredentials } from '../helpers/runtime.js'

let h: GatewayHarness | undefined
afterEach(async () => {
  await h?.close()
  h = undefined
})

async function harness(env: Record<string, string>): Promise<GatewayHarness> {
  h = await gatewayHarness(env)
  await h.register('alpha')
  return h
}

/** A syntactically valid token for a key id nobody issued: a fresh guess, never seen by the gateway. */
function guess(): RuntimeCredentials {
  const keyId = `mk${randomBytes(15).toString('base64url').toLowerCase().replace(/[^a-z2-7]/g, 'a').slice(0, 24).padEnd(24, 'a')}`
  return { keyId, token: formatToken(keyId, 'g'.repeat(52)) }
}

const from = (address: string): { extraHeaders: Record<string, string> } => ({ extraHeaders: { 'x-forwarded-for': address } })

/**
 * Fire 300 concurrent fresh guesses at once. Regression: the check read state that was only written
 * after the failure's round trip, so every one of a concurrent burst passed it (300 evaluated, limit 10).
 * Key lookups are held until every request has either reached the store or been answered, so the
 * burst is truly concurrent whatever the machine's speed: no request's failure is counted before the
 * others have been admitted or refused.
 */
async function burst(g: GatewayHarness): Promise<void> {
  const control = g.t.stores.control
  const lookedUp = new Set<string>()
  let arrived = 0
  let open!: () => void
  const gate = new Promise<void>((resolve) => { open = resolve })
  const arrive = (): void => {
    if (++arrived === 300) open()
  }
  const original = control.getKey.bind(control)
  const getKey = vi.spyOn(control, 'getKey').mockImplementation(async (id) => {
    lookedUp.add(id)
    arrive()
    await gate
    return original(id)
  })
  const responses = await Promise.all(Array.from({ length: 300 }, async () => {
    const credentials = guess()
    const res = await g.call({ method: 'GET', url: '/v1/whoami', credentials })
    if (!lookedUp.has(credentials.keyId)) arrive()
    return res
  }))
  const statuses = responses.map((r) => `${r.status} ${r.body?.reason}`)
  const evaluated = statuses.filter((s) => s === '401 invalid_key').length
  expect(evaluated, 'at most the limit is evaluated').toBeLessThanOrEqual(10)
  expect(evaluated).toBeGreaterThan(0)
  expect(statuses.filter((s) => s === '429 rate_limited').length).toBe(300 - evaluated)
  expect(getKey.mock.calls.length, 'key lookups').toBeLessThanOrEqual(10)
}

const BURST = { MECHA_AUTH_FAILURE_LIMIT: '10', MECHA_AUTH_FAILURE_WINDOW_SECONDS: '60' }

describe('429 rate_limited: a concurrent burst of bad credentials from one address', () => {
  it('embedded: 300 concurrent guesses with the limit at 10 are evaluated at most 10 times', async () => {
    await burst(await harness(BURST))
  })
})

describeWithRedis('429 rate_limited: a concurrent burst on Redis', () => {
  let redis: RedisHandle
  afterAll(async () => {
    await redis?.stop()
  })

  it('Redis: 300 concurrent guesses with the limit at 10 are evaluated at most 10 times', async () => {
    redis = await startRedis()
    await burst(await harness({ ...BURST, REDIS_URL: redis.url, MECHA_REDIS_PREFIX: 'burst:' }))
  })
})

describe('429 rate_limited: addresses are bucketed by network', () => {
  const env = { MECHA_AUTH_FAILURE_LIMIT: '3', MECHA_AUTH_FAILURE_WINDOW_SECONDS: '60', MECHA_TRUST_PROXY: '127.0.0.1' }

  it('IPv6: failures from three addresses of one /64 throttle the whole /64, and only it', async () => {
    const g = await harness(env)
    for (const address of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:ffff:ffff:ffff:ffff']) {
      expect((await g.call({ method: 'GET', url: '/v1/whoami', credentials: guess(), ...from(address) })).status).toBe(401)
    }
    const same = await g.call({ method: 'GET', url: '/v1/whoami', credentials: guess(), ...from('2001:db8:1:2:abcd::7') })
    expect({ status: same.status, reason: same.body.reason }).toEqual({ status: 429, reason: 'rate_limited' })
    const next = await g.call({ method: 'GET', url: '/v1/whoami', credentials: guess(), ...from('2001:db8:1:3::1') })
    expect({ status: next.status, reason: next.body.reason }).toEqual({ status: 401, reason: 'invalid_key' })
  })

  it('IPv4-mapped IPv6 is the IPv4 address', async () => {
    const g = await harness(env)
    for (let i = 0; i < 3; i++) {
      expect((await g.call({ method: 'GET', url: '/v1/whoami', credentials: guess(), ...from('::ffff:198.51.100.4') })).status).toBe(401)
    }
    const plain = await g.call({ method: 'GET', url: '/v1/whoami', credentials: guess(), ...from('198.51.100.4') })
    expect({ status: plain.status, reason: plain.body.reason }).toEqual({ status: 429, reason: 'rate_limited' })
  })
})

describe('200: credentials that authenticated from the address before it was throttled keep working', () => {
  it('a known runtime key and known operator tokens are evaluated; a fresh guess and a never-seen valid key are 429', async () => {
    const g = await harness({ MECHA_AUTH_FAILURE_LIMIT: '3', MECHA_AUTH_FAILURE_WINDOW_SECONDS: '60' })
    const known = await g.issue('alpha', { signature: { algorithms: ['hmac-sha256'] } })
    const neverSeen = await g.issue('alpha')
    expect((await g.call({ method: 'GET', url: '/v1/whoami', credentials: known })).status).toBe(200)
    const audit = { method: 'GET' as const, url: '/v1/audit?limit=1', headers: bearer(OPERATORS.auditor) }
    expect((await g.t.app.inject(audit)).statusCode).toBe(200)

    for (let i = 0; i < 3; i++) expect((await g.call({ method: 'GET', url: '/v1/whoami', credentials: guess() })).status).toBe(401)
    const fresh = await g.call({ method: 'GET', url: '/v1/whoami', credentials: guess() })
    expect({ status: fresh.status, reason: fresh.body.reason }).toEqual({ status: 429, reason: 'rate_limited' })
    const unseen = await g.call({ method: 'GET', url: '/v1/whoami', credentials: neverSeen })
    expect({ status: unseen.status, reason: unseen.body.reason }).toEqual({ status: 429, reason: 'rate_limited' })
    const unseenOperator = await g.t.app.inject({ method: 'GET', url: '/v1/mechas', headers: bearer(OPERATORS.reader) })
    expect({ status: unseenOperator.statusCode, reason: unseenOperator.json().reason }).toEqual({ status: 429, reason: 'rate_limited' })

    // The rightful holders behind the same address: the key (by token or by signature) and the operators.
    expect((await g.call({ method: 'GET', url: '/v1/whoami', credentials: known })).status).toBe(200)
    expect((await g.call({ method: 'GET', url: '/v1/whoami', credentials: known, auth: 'hmac-sha256' })).status).toBe(200)
    expect((await g.t.app.inject(audit)).statusCode).toBe(200)
    // The harness registered alpha with the admin token from this address, so the admin can revoke the abused key.
    const revoked = await g.t.app.inject({ method: 'POST', url: `/v1/keys/${neverSeen.keyId}/revoke`, headers: bearer(OPERATORS.admin) })
    expect(revoked.statusCode, revoked.body).toBe(200)
  })
})

describe('503: a request that neither verified nor failed frees its place', () => {
  it('key lookups failing with 503, more of them than the limit, leave the budget whole', async () => {
    const g = await harness({ MECHA_AUTH_FAILURE_LIMIT: '3', MECHA_AUTH_FAILURE_WINDOW_SECONDS: '60' })
    const getKey = vi.spyOn(g.t.stores.control, 'getKey').mockRejectedValue(new DependencyUnavailableError('store'))
    for (let i = 0; i < 5; i++) expect((await g.call({ method: 'GET', url: '/v1/whoami', credentials: guess() })).status).toBe(503)
    getKey.mockRestore()
    const res = await g.call({ method: 'GET', url: '/v1/whoami', credentials: guess() })
    expect({ status: res.status, reason: res.body.reason }).toEqual({ status: 401, reason: 'invalid_key' })
  })
})
