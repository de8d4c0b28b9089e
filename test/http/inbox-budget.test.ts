import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Env } from '../../src/config/load.js'
import { admin } from '../helpers/app.js'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'

/**
 * No single key can fill an inbox for everyone: a sender holds at most MECHA_INBOX_SENDER_SHARE of an
 * inbox's messages and bytes (429 sender_share_exceeded), and the inbox has a byte budget beside its
 * message count (MECHA_INBOX_MAX_BYTES, 429 inbox_full).
 */
function budgetSuite(name: string, env: () => Env): void {
  describe(name, () => {
    let h: GatewayHarness
    let alpha: IssuedRuntime
    let gamma: IssuedRuntime
    let delta: IssuedRuntime
    let beta: IssuedRuntime

    beforeAll(async () => {
      h = await gatewayHarness({ MECHA_INBOX_LIMIT: '4', MECHA_INBOX_SENDER_SHARE: '0.5', MECHA_INBOX_MAX_BYTES: '140000', ...env() })
      for (const id of ['alpha', 'beta', 'gamma', 'delta']) await h.register(id)
      alpha = await h.issue('alpha')
      gamma = await h.issue('gamma')
      delta = await h.issue('delta')
      beta = await h.issue('beta')
    })
    afterAll(async () => { await h?.close() })

    const drain = async (): Promise<void> => {
      const inbox = await h.call({ method: 'GET', url: '/v1/inbox?limit=100', credentials: beta })
      const ids = inbox.body.messages.map((m: { id: string }) => m.id)
      if (ids.length > 0) await h.call({ method: 'POST', url: '/v1/inbox/ack', body: JSON.stringify({ ids }), credentials: beta })
    }

    it('a sender over its share gets 429 sender_share_exceeded while another sender\'s message to the same inbox is accepted', async () => {
      for (let i = 0; i < 2; i++) expect((await h.send(alpha, { to: 'beta', kind: 'k', payload: i })).status).toBe(202)
      const over = await h.send(alpha, { to: 'beta', kind: 'k', payload: 'flood' })
      expect(over.status).toBe(429)
      expect(over.body.reason).toBe('sender_share_exceeded')
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0)
      expect((await h.send(gamma, { to: 'beta', kind: 'k', payload: 'other sender' })).status).toBe(202)
      await drain()
    })

    it('the byte budget: an inbox over MECHA_INBOX_MAX_BYTES refuses with 429 inbox_full', async () => {
      // Each sender may hold 70000 bytes, the inbox 140000: the third sender finds it full by bytes.
      const chunk = 'x'.repeat(60000)
      expect((await h.send(alpha, { to: 'beta', kind: 'k', payload: chunk })).status).toBe(202)
      expect((await h.send(gamma, { to: 'beta', kind: 'k', payload: chunk })).status).toBe(202)
      const full = await h.send(delta, { to: 'beta', kind: 'k', payload: 'x'.repeat(25000) })
      expect([full.status, full.body.reason]).toEqual([429, 'inbox_full'])
      expect(full.body.detail).toMatch(/bytes/)
      await drain()
      expect((await h.send(delta, { to: 'beta', kind: 'k', payload: chunk })).status, 'acked bytes are free again').toBe(202)
      await drain()
    })
  })
}

budgetSuite('inbox budget (embedded)', () => ({}))

describeWithRedis('inbox budget (redis-server)', () => {
  let redis: RedisHandle
  beforeAll(async () => { redis = await startRedis() })
  afterAll(async () => { await redis?.stop() })
  budgetSuite('on Redis', () => ({ REDIS_URL: redis.url }))
}, { ownServer: true })

describe('keys get a default rate limit', () => {
  let h: GatewayHarness
  beforeAll(async () => {
    h = await gatewayHarness({ MECHA_DEFAULT_KEY_RATE_LIMIT: '3/60' })
    await h.register('alpha')
  })
  afterAll(async () => { await h.close() })

  const issue = async (body: object): Promise<{ rate_limit: unknown }> => {
    const res = await h.t.app.inject({ method: 'POST', url: '/v1/mechas/alpha/keys', headers: admin, payload: body })
    expect(res.statusCode).toBe(201)
    return res.json().key
  }

  it('a key issued without rate_limit gets MECHA_DEFAULT_KEY_RATE_LIMIT, and it is enforced', async () => {
    expect((await issue({})).rate_limit).toEqual({ requests: 3, per_seconds: 60 })
    const key = await h.issue('alpha')
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) statuses.push((await h.call({ method: 'GET', url: '/v1/whoami', credentials: key })).status)
    expect(statuses).toEqual([200, 200, 200, 429])
  })

  it('rate_limit: null is the operator\'s explicit choice and stays null', async () => {
    expect((await issue({ rate_limit: null })).rate_limit).toBeNull()
  })

  it('an explicit rate_limit wins over the default', async () => {
    expect((await issue({ rate_limit: { requests: 7, per_seconds: 1 } })).rate_limit).toEqual({ requests: 7, per_seconds: 1 })
  })
})
