import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { admin } from '../helpers/app.js'
import { delivered, gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { freshNonce } from '../helpers/runtime.js'

let h: GatewayHarness
let alpha: IssuedRuntime
let beta: IssuedRuntime

beforeAll(async () => {
  h = await gatewayHarness()
  await h.register('alpha')
  await h.register('beta')
  alpha = await h.issue('alpha', { signature: { algorithms: ['hmac-sha256', 'ed25519'] } })
  beta = await h.issue('beta')
})
afterAll(async () => { await h.close() })

async function drain(mecha: string, credentials: IssuedRuntime): Promise<{ id: string; from: string; payload: unknown }[]> {
  const inbox = await h.call({ method: 'GET', url: '/v1/inbox?limit=100', credentials })
  expect(inbox.status).toBe(200)
  const ids = inbox.body.messages.map((m: { id: string }) => m.id)
  if (ids.length > 0) expect((await h.call({ method: 'POST', url: '/v1/inbox/ack', body: JSON.stringify({ ids }), credentials })).body.acknowledged).toBe(ids.length)
  expect(await delivered(h, mecha)).toEqual([])
  return inbox.body.messages
}

describe('accepted: every credential mode reaches the recipient', () => {
  it.each(['token', 'hmac-sha256', 'ed25519', 'token+hmac-sha256', 'token+ed25519'] as const)('%s -> 202, delivered with the sender derived from the key', async (auth) => {
    const res = await h.send(alpha, { to: 'beta', kind: 'task.request', payload: { auth } }, { auth })
    expect(res.status).toBe(202)
    expect(res.body).toMatchObject({ from: 'alpha', to: 'beta', kind: 'task.request', id: expect.stringMatching(/^msg_/) })
    const messages = await drain('beta', beta)
    expect(messages).toEqual([expect.objectContaining({ id: res.body.id, from: 'alpha', payload: { auth }, delivery_count: 1, reply_to: null })])
  })

  it('accepts the Bearer scheme and an explicit matching `from`', async () => {
    const res = await h.send(alpha, { to: 'beta', kind: 'k', payload: 1, from: 'alpha' }, { tamper: (headers) => { headers.authorization = `Bearer ${alpha.token}` } })
    expect(res.status).toBe(202)
    await drain('beta', beta)
  })

  it('a signed GET covers its query', async () => {
    const res = await h.call({ method: 'GET', url: '/v1/inbox?limit=5&wait=0', credentials: alpha, auth: 'ed25519' })
    expect(res.status).toBe(200)
  })
})

describe('accepted: idempotent retries', () => {
  it('the same Idempotency-Key and request with a fresh nonce returns the original acceptance and delivers once', async () => {
    const options = { extraHeaders: { 'idempotency-key': '"order-42"' } }
    const first = await h.send(alpha, { to: 'beta', kind: 'k', payload: 'x' }, options)
    const retry = await h.send(alpha, { to: 'beta', kind: 'k', payload: 'x' }, options)
    expect(first.status).toBe(202)
    expect(retry.status).toBe(202)
    expect(retry.body).toEqual(first.body)
    expect(retry.headers.get('mecha-idempotent-replay')).toBe('true')
    expect((await drain('beta', beta)).map((m) => m.id)).toEqual([first.body.id])
  })
})

describe('accepted: whoami', () => {
  it('names the mecha, the key and how the request proved itself', async () => {
    const res = await h.call({ method: 'GET', url: '/v1/whoami', credentials: alpha, auth: 'token+ed25519' })
    expect(res.status).toBe(200)
    expect(res.body).toMatchObject({ mecha: 'alpha', key_id: alpha.keyId, verified_by: { token: true, signature: 'ed25519' } })
    expect(Math.abs(res.body.server_time - Date.now() / 1000)).toBeLessThan(5)
  })
})

describe('accepted: rotation and several public keys', () => {
  it('the old token works during the grace period, the new one at once', async () => {
    const key = await h.issue('alpha')
    const rotated = (await h.t.app.inject({ method: 'POST', url: `/v1/keys/${key.keyId}/rotate`, headers: admin, payload: { grace_seconds: 60 } })).json()
    expect((await h.call({ method: 'GET', url: '/v1/whoami', credentials: key })).status).toBe(200)
    expect((await h.call({ method: 'GET', url: '/v1/whoami', credentials: { keyId: key.keyId, token: rotated.token } })).status).toBe(200)
    await h.t.app.inject({ method: 'POST', url: `/v1/keys/${key.keyId}/rotate`, headers: admin, payload: { grace_seconds: 0 } })
    expect((await h.call({ method: 'GET', url: '/v1/whoami', credentials: key })).body.reason).toBe('invalid_key')
  })

  it('either of two registered Ed25519 keys verifies', async () => {
    const a = generateKeyPairSync('ed25519')
    const b = generateKeyPairSync('ed25519')
    const key = await h.issue('alpha', { signature: { required: true, algorithms: ['ed25519'] }, public_keys: [a, b].map((p) => p.publicKey.export({ format: 'jwk' }).x) })
    for (const pair of [a, b]) {
      const res = await h.call({ method: 'GET', url: '/v1/whoami', credentials: { keyId: key.keyId, privateKey: pair.privateKey }, auth: 'ed25519', nonce: freshNonce() })
      expect(res.status).toBe(200)
    }
  })
})
