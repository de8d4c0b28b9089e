import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { admin } from '../helpers/app.js'
import { gatewayWithKeys, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'

let h: GatewayHarness
let alpha: IssuedRuntime
let beta: IssuedRuntime
beforeEach(async () => { [h, alpha, beta] = await gatewayWithKeys('alpha', 'beta') })
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

describe('POST /v1/inbox/nack|extend|reject, GET /v1/inbox/dead, POST /v1/inbox/dead/redrive|purge', () => {
  const post = (who: IssuedRuntime, url: string, body: object) => h.call({ method: 'POST', url, body: JSON.stringify(body), credentials: who })

  it('nack with a delay makes a delivered message visible again after it, and only the caller\'s', async () => {
    const sent = await h.send(alpha, { to: 'beta', kind: 'task', payload: 1 })
    expect((await inbox(beta)).map((m) => m.id)).toEqual([sent.body.id])
    expect((await post(alpha, '/v1/inbox/nack', { ids: [sent.body.id] })).body, 'not alpha\'s message').toEqual({ nacked: 0 })
    const nacked = await post(beta, '/v1/inbox/nack', { ids: [sent.body.id], delay_seconds: 0 })
    expect(nacked).toMatchObject({ status: 200, body: { nacked: 1 } })
    expect((await inbox(beta)).map((m) => [m.id, m.delivery_count])).toEqual([[sent.body.id, 2]])
  })

  it('extend keeps a delivered message invisible for the seconds asked', async () => {
    const sent = await h.send(alpha, { to: 'beta', kind: 'task', payload: 1 })
    await inbox(beta)
    expect((await post(beta, '/v1/inbox/extend', { ids: [sent.body.id], seconds: 3600 })).body).toEqual({ extended: 1 })
    expect((await readAt('beta', Date.now() + 3_000_000)).messages).toEqual([])
    expect((await readAt('beta', Date.now() + 3_700_000)).messages.map((m) => m.id)).toEqual([sent.body.id])
  })

  it('reject dead-letters at once, the sender is told; dead letters are listed, redriven and purged by their recipient only', async () => {
    const [first, second] = [await h.send(alpha, { to: 'beta', kind: 'task', payload: 1 }), await h.send(alpha, { to: 'beta', kind: 'task', payload: 2 })]
    await inbox(beta)
    const ids = [first.body.id, second.body.id]
    expect((await post(beta, '/v1/inbox/reject', { ids, reason: 'bad input' })).body).toEqual({ rejected: 2 })
    expect((await inbox(alpha)).map((m) => [m.kind, m.payload.reason])).toEqual([['mecha.delivery.failed', 'rejected'], ['mecha.delivery.failed', 'rejected']])

    const dead = await h.call({ method: 'GET', url: '/v1/inbox/dead?limit=10', credentials: beta })
    expect(dead.status).toBe(200)
    expect(dead.body.dead_letters.map((d: { message: { id: string }; reason: string; deliveries: number; detail: string }) => [d.message.id, d.reason, d.deliveries, d.detail]).sort())
      .toEqual(ids.map((id) => [id, 'rejected', 1, 'bad input']).sort())
    expect((await h.call({ method: 'GET', url: '/v1/inbox/dead', credentials: alpha })).body.dead_letters, 'another mecha\'s').toEqual([])
    expect((await post(alpha, '/v1/inbox/dead/redrive', { ids })).body).toEqual({ redriven: 0 })
    expect((await post(alpha, '/v1/inbox/dead/purge', { ids })).body).toEqual({ purged: 0 })

    expect((await post(beta, '/v1/inbox/dead/redrive', { ids: [first.body.id] })).body).toEqual({ redriven: 1 })
    expect((await post(beta, '/v1/inbox/dead/purge', { ids: [second.body.id] })).body).toEqual({ purged: 1 })
    expect((await h.call({ method: 'GET', url: '/v1/inbox/dead', credentials: beta })).body.dead_letters).toEqual([])
    expect((await inbox(beta)).map((m) => [m.id, m.delivery_count])).toEqual([[first.body.id, 1]])
  })

  it.each([
    ['/v1/inbox/nack', { ids: [] }],
    ['/v1/inbox/nack', { ids: ['msg_x'], delay_seconds: -1 }],
    ['/v1/inbox/extend', { ids: ['msg_x'] }],
    ['/v1/inbox/extend', { ids: ['msg_x'], seconds: 43_201 }],
    ['/v1/inbox/reject', { ids: ['msg_x'], reason: 'x'.repeat(257) }],
    ['/v1/inbox/dead/redrive', { ids: 'msg_x' }],
  ])('%s %j: 400 invalid_request', async (url, body) => {
    const res = await post(beta, url, body)
    expect(res.status).toBe(400)
    expect(res.body.reason).toBe('invalid_request')
  })
})
