import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { admin } from '../helpers/app.js'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'

let h: GatewayHarness
let alpha: IssuedRuntime
let beta: IssuedRuntime
beforeEach(async () => {
  h = await gatewayHarness()
  for (const id of ['alpha', 'beta']) await h.register(id)
  alpha = await h.issue('alpha')
  beta = await h.issue('beta')
})
afterEach(async () => { await h.close() })

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const inbox = async (who: IssuedRuntime): Promise<{ id: string; kind: string; payload: any; delivery_count: number }[]> => // eslint-disable-line @typescript-eslint/no-explicit-any
  (await h.call({ method: 'GET', url: '/v1/inbox?limit=100', credentials: who })).body.messages
/** The raw transport, on a clock the test moves: what is stored, without waiting for it. */
const readAt = (mecha: string, now: number) => h.t.stores.transport.read(mecha, { limit: 100, visibilityMs: 60_000, now })

describe('the recipient\'s delivery policy on the gateway: a message never acked is dead-lettered and its sender told', () => {
  it('after max_deliveries deliveries over GET /v1/inbox, the sender gets mecha.delivery.failed', async () => {
    const patched = await h.t.app.inject({ method: 'PATCH', url: '/v1/mechas/beta', headers: admin, payload: { delivery: { max_deliveries: 2, visibility_seconds: 1 } } })
    expect(patched.statusCode).toBe(200)
    const sent = await h.send(alpha, { to: 'beta', kind: 'task', payload: 'poison' })
    expect(sent.status).toBe(202)
    expect((await inbox(beta)).map((m) => m.delivery_count)).toEqual([1])
    await sleep(1100)
    expect((await inbox(beta)).map((m) => m.delivery_count)).toEqual([2])
    await sleep(1100)
    expect(await inbox(beta), 'the third read dead-letters it').toEqual([])
    const receipts = await inbox(alpha)
    expect(receipts).toHaveLength(1)
    expect(receipts[0]).toMatchObject({ kind: 'mecha.delivery.failed', payload: { message_id: sent.body.id, to: 'beta', reason: 'max_deliveries', deliveries: 2 } })
  })
})

describe('POST /v1/messages ttl_seconds, deliver_after, receipts: stored with the message', () => {
  it('deliver_after: not delivered before it', async () => {
    const at = Math.floor(Date.now() / 1000) + 3600
    const sent = await h.send(alpha, { to: 'beta', kind: 'task', payload: 1, deliver_after: at })
    expect(sent.status).toBe(202)
    expect(await inbox(beta)).toEqual([])
    const later = await readAt('beta', at * 1000)
    expect(later.messages.map((m) => [m.id, m.deliver_after])).toEqual([[sent.body.id, at]])
  })

  it('ttl_seconds: never delivered after it, dead-lettered expired', async () => {
    const sent = await h.send(alpha, { to: 'beta', kind: 'task', payload: 1, ttl_seconds: 60, receipts: false })
    expect(sent.status).toBe(202)
    const expired = await readAt('beta', Date.now() + 61_000)
    expect(expired.messages).toEqual([])
    expect(expired.deadLettered.map((d) => [d.message.id, d.reason, d.message.ttl_seconds, d.message.receipts])).toEqual([[sent.body.id, 'expired', 60, false]])
  })

  it.each([
    [{ deliver_after: 'soon' }],
    [{ ttl_seconds: 0 }],
    [{ receipts: 'no' }],
  ])('refuses %j with 400 invalid_request', async (extra) => {
    const res = await h.send(alpha, { to: 'beta', kind: 'task', payload: 1, ...extra })
    expect(res.status).toBe(400)
    expect(res.body.reason).toBe('invalid_request')
  })

  it('refuses deliver_after more than 7 days ahead with 400 invalid_request', async () => {
    const res = await h.send(alpha, { to: 'beta', kind: 'task', payload: 1, deliver_after: Math.floor(Date.now() / 1000) + 8 * 86_400 })
    expect(res.status).toBe(400)
    expect(res.body).toMatchObject({ reason: 'invalid_request', detail: expect.stringContaining('7 days') })
    expect(await readAt('beta', Date.now() + 9 * 86_400_000)).toMatchObject({ messages: [] })
  })
})
