import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gatewayHarness, type GatewayHarness } from '../helpers/gateway.js'

/**
 * Open surfaces are counted per client address (MECHA_OPEN_RATE_LIMIT, bucket `open:<address>`),
 * over real HTTP. MECHA_TRUST_PROXY=true lets each test pick its address with X-Forwarded-For, so the
 * buckets of one test do not spill into another.
 */
const LIMIT = 3
let h: GatewayHarness

beforeAll(async () => { h = await gatewayHarness({ MECHA_OPEN_RATE_LIMIT: `${LIMIT}/60`, MECHA_TRUST_PROXY: 'true' }) })
afterAll(async () => { await h.close() })

const from = (address: string, init: RequestInit = {}): RequestInit => ({ ...init, headers: { ...(init.headers as Record<string, string>), 'x-forwarded-for': address } })

describe('open surfaces over the limit', () => {
  it('answers 429 rate_limited with Retry-After once an address spent its budget', async () => {
    for (let i = 0; i < LIMIT; i++) expect((await fetch(`${h.base}/.well-known/mecharim`, from('10.0.0.1'))).status).toBe(200)
    const res = await fetch(`${h.base}/openapi.json`, from('10.0.0.1'))
    expect(res.status).toBe(429)
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    const retryAfter = Number(res.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(1)
    expect(retryAfter).toBeLessThanOrEqual(60)
    expect(await res.json()).toMatchObject({ status: 429, code: 'RESOURCE_EXHAUSTED', reason: 'rate_limited', retry_after: retryAfter })
  })

  it('counts every open surface in one bucket: schemas, directory, docs and /mcp', async () => {
    const urls = ['/v1/schemas', '/v1/directory/mechas', '/docs']
    for (const url of urls) expect((await fetch(`${h.base}${url}`, from('10.0.0.2'))).status, url).toBeLessThan(400)
    const mcp = await fetch(`${h.base}/mcp`, from('10.0.0.2', {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    }))
    expect(mcp.status).toBe(429)
    expect(await mcp.json()).toMatchObject({ reason: 'rate_limited' })
  })

  it('counts in the shared rate limiter under open:<address>', async () => {
    for (let i = 0; i < LIMIT; i++) await h.t.stores.rateLimiter.hit('open:10.0.0.3', LIMIT, 60, Date.now())
    expect((await fetch(`${h.base}/v1/schemas`, from('10.0.0.3'))).status).toBe(429)
  })

  it('keeps separate budgets per address', async () => {
    for (let i = 0; i < LIMIT + 1; i++) await fetch(`${h.base}/v1/schemas`, from('10.0.0.4'))
    expect((await fetch(`${h.base}/v1/schemas`, from('10.0.0.4'))).status).toBe(429)
    expect((await fetch(`${h.base}/v1/schemas`, from('10.0.0.5'))).status).toBe(200)
  })
})

describe('what the open limit does not count', () => {
  it('never starves the health probes /healthz and /readyz, nor counts them', async () => {
    for (let i = 0; i < LIMIT + 2; i++) {
      expect((await fetch(`${h.base}/healthz`, from('10.0.0.6'))).status).toBe(200)
      expect((await fetch(`${h.base}/readyz`, from('10.0.0.6'))).status).toBe(200)
    }
    expect((await fetch(`${h.base}/v1/schemas`, from('10.0.0.6'))).status).toBe(200)
    for (let i = 0; i < LIMIT; i++) await fetch(`${h.base}/v1/schemas`, from('10.0.0.6'))
    expect((await fetch(`${h.base}/healthz`, from('10.0.0.6'))).status).toBe(200)
  })

  it('leaves operator and runtime routes to their own limits', async () => {
    for (let i = 0; i < LIMIT + 1; i++) await fetch(`${h.base}/v1/schemas`, from('10.0.0.7'))
    expect((await fetch(`${h.base}/v1/whoami`, from('10.0.0.7'))).status).toBe(401)
    expect((await fetch(`${h.base}/v1/mechas`, from('10.0.0.7'))).status).toBe(401)
  })
})

describe('MECHA_OPEN_RATE_LIMIT=off', () => {
  it('counts nothing', async () => {
    const off = await gatewayHarness({ MECHA_OPEN_RATE_LIMIT: 'off' })
    try {
      for (let i = 0; i < 20; i++) expect((await fetch(`${off.base}/v1/schemas`)).status).toBe(200)
    } finally {
      await off.close()
    }
  })
})
