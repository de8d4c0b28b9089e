import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MECHA_BODY_COMPONENTS, MECHA_COMPONENTS } from '../../src/crypto/signature-base.js'
import { delivered, gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'

let h: GatewayHarness
let alpha: IssuedRuntime
let gamma: IssuedRuntime
let beta: IssuedRuntime

beforeAll(async () => {
  h = await gatewayHarness()
  for (const id of ['alpha', 'beta', 'gamma']) await h.register(id)
  alpha = await h.issue('alpha', { signature: { algorithms: ['hmac-sha256'] } })
  gamma = await h.issue('gamma')
  beta = await h.issue('beta')
})
afterAll(async () => { await h.close() })

const withKey = (key: string): { extraHeaders: Record<string, string> } => ({ extraHeaders: { 'idempotency-key': key } })

async function inbox(): Promise<{ id: string; from: string; payload: unknown; idempotency_key: string | null }[]> {
  const res = await h.call({ method: 'GET', url: '/v1/inbox?limit=100', credentials: beta })
  expect(res.status).toBe(200)
  return res.body.messages
}

async function drain(): Promise<void> {
  const ids = (await inbox()).map((m) => m.id)
  if (ids.length > 0) await h.call({ method: 'POST', url: '/v1/inbox/ack', body: JSON.stringify({ ids }), credentials: beta })
  expect(await delivered(h, 'beta')).toEqual([])
}

describe('message identity: ids are the server\'s', () => {
  it('two senders with the same Idempotency-Key: two messages, two distinct server ids, acking one leaves the other', async () => {
    const fromAlpha = await h.send(alpha, { to: 'beta', kind: 'k', payload: 'a' }, withKey('"order-42"'))
    const fromGamma = await h.send(gamma, { to: 'beta', kind: 'k', payload: 'g' }, withKey('"order-42"'))
    expect([fromAlpha.status, fromGamma.status]).toEqual([202, 202])
    expect(fromAlpha.body.id).toMatch(/^msg_[0-9a-z]{26}$/)
    expect(fromGamma.body.id).toMatch(/^msg_[0-9a-z]{26}$/)
    expect(fromAlpha.body.id).not.toBe(fromGamma.body.id)
    expect(fromGamma.headers.get('mecha-idempotent-replay')).toBeNull()

    const messages = await inbox()
    expect(messages.map((m) => [m.id, m.from, m.idempotency_key])).toEqual([[fromAlpha.body.id, 'alpha', 'order-42'], [fromGamma.body.id, 'gamma', 'order-42']])
    const ack = await h.call({ method: 'POST', url: '/v1/inbox/ack', body: JSON.stringify({ ids: [fromAlpha.body.id] }), credentials: beta })
    expect(ack.body.acknowledged).toBe(1)
    const other = await h.call({ method: 'POST', url: '/v1/inbox/ack', body: JSON.stringify({ ids: [fromGamma.body.id] }), credentials: beta })
    expect(other.body.acknowledged, 'the other sender\'s message was still there').toBe(1)
  })

  it('a message without an Idempotency-Key is delivered with idempotency_key null', async () => {
    const res = await h.send(alpha, { to: 'beta', kind: 'k', payload: 1 })
    expect(res.status).toBe(202)
    expect(await inbox()).toEqual([expect.objectContaining({ id: res.body.id, idempotency_key: null })])
    await drain()
  })

  it('refuses a body field `id` with 400 invalid_request pointing to the Idempotency-Key header; nothing is delivered', async () => {
    const res = await h.send(alpha, { to: 'beta', kind: 'k', payload: 'x', id: 'msg_01jchosenbythesender00000' })
    expect(res.status).toBe(400)
    expect(res.body.reason).toBe('invalid_request')
    expect(res.body.detail).toMatch(/Idempotency-Key/)
    expect(await delivered(h, 'beta')).toEqual([])
  })

  it('refuses a malformed or repeated Idempotency-Key', async () => {
    const bad = await h.send(alpha, { to: 'beta', kind: 'k', payload: 'x' }, withKey('"has space"'))
    expect([bad.status, bad.body.reason]).toEqual([400, 'invalid_request'])
    expect(await delivered(h, 'beta')).toEqual([])
  })
})

describe('message identity: idempotent retries', () => {
  it('the same key and the same request: the original acceptance with Mecha-Idempotent-Replay, delivered once', async () => {
    const body = { to: 'beta', kind: 'k', payload: { n: 1 } }
    const first = await h.send(alpha, body, withKey('"retry-1"'))
    // A bare token names the same key as the draft's sf-string.
    const retry = await h.send(alpha, body, withKey('retry-1'))
    expect([first.status, retry.status]).toEqual([202, 202])
    expect(retry.body).toEqual(first.body)
    expect(retry.headers.get('mecha-idempotent-replay')).toBe('true')
    expect((await inbox()).map((m) => m.id)).toEqual([first.body.id])
    await drain()
  })

  it('the same key with a different body: 409 idempotency_key_reused and nothing delivered', async () => {
    const first = await h.send(alpha, { to: 'beta', kind: 'k', payload: 'original' }, withKey('"retry-2"'))
    expect(first.status).toBe(202)
    const reused = await h.send(alpha, { to: 'beta', kind: 'k', payload: 'different' }, withKey('"retry-2"'))
    expect(reused.status).toBe(409)
    expect(reused.body.reason).toBe('idempotency_key_reused')
    expect((await inbox()).map((m) => m.payload)).toEqual(['original'])
    await drain()
  })
})

describe('message identity: the signature covers the key', () => {
  const signed = [...MECHA_COMPONENTS, ...MECHA_BODY_COMPONENTS]

  it('a signed request that sends Idempotency-Key without covering it is refused, and nothing is delivered', async () => {
    const res = await h.send(alpha, { to: 'beta', kind: 'k', payload: 's' }, { auth: 'hmac-sha256', components: signed, ...withKey('"signed-1"') })
    expect(res.status).toBe(401)
    expect(res.body.reason).toBe('malformed_credentials')
    expect(res.body.detail).toMatch(/idempotency-key/)
    expect(await delivered(h, 'beta')).toEqual([])
  })

  it('covered, it is accepted; changed in transit, the signature fails', async () => {
    const components = [...signed, 'idempotency-key']
    const ok = await h.send(alpha, { to: 'beta', kind: 'k', payload: 's' }, { auth: 'hmac-sha256', components, ...withKey('"signed-2"') })
    expect(ok.status).toBe(202)
    const tampered = await h.send(alpha, { to: 'beta', kind: 'k', payload: 's' }, {
      auth: 'hmac-sha256', components, ...withKey('"signed-3"'), tamper: (headers) => { headers['idempotency-key'] = '"signed-4"' },
    })
    expect([tampered.status, tampered.body.reason]).toEqual([401, 'bad_signature'])
    expect((await inbox()).map((m) => m.idempotency_key)).toEqual(['signed-2'])
    await drain()
  })
})
