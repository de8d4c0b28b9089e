import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { delivered, drainInbox, gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { freshNonce, runtimeFetch } from '../helpers/runtime.js'

/**
 * A request target with percent-encoded characters (`POST /%76%31/messages`) is routed on its decoded
 * path, so it reaches POST /v1/messages; the steps must decide by the route it reached, not by the
 * path as sent (which `@path` signs, RFC 9421 section 2.2.6). Seen before: the nonce claim compared the
 * raw path with '/v1/messages', claimed for the caller instead of the recipient, and the accept
 * refused that claim with a 500.
 */
let h: GatewayHarness
let alpha: IssuedRuntime
let signer: IssuedRuntime
let beta: IssuedRuntime

beforeAll(async () => {
  h = await gatewayHarness()
  for (const id of ['alpha', 'beta']) await h.register(id)
  alpha = await h.issue('alpha')
  signer = await h.issue('alpha', { signature: { algorithms: ['hmac-sha256'] } })
  beta = await h.issue('beta')
})
afterAll(async () => { await h.close() })
afterEach(async () => { await drainInbox(h, beta) })

const MESSAGE = JSON.stringify({ to: 'beta', kind: 'task.request', payload: { n: 1 } })

describe('POST /v1/messages with a percent-encoded path', () => {
  it.each(['/%76%31/messages', '/v1/%6Dessages', '/v1/m%65ssages'])('%s with a token: 202, delivered to the recipient', async (url) => {
    const res = await runtimeFetch(h.base, { method: 'POST', url, body: MESSAGE, credentials: alpha, contentType: 'application/json' })
    expect(res.status).toBe(202)
    expect((await delivered(h, 'beta')).map((m) => m.from)).toEqual(['alpha'])
  })

  it('signed over the path as sent (hmac-sha256): 202', async () => {
    const res = await runtimeFetch(h.base, { method: 'POST', url: '/%76%31/messages', body: MESSAGE, credentials: signer, auth: 'hmac-sha256', contentType: 'application/json', authority: h.t.config.publicAuthority })
    expect(res.status).toBe(202)
  })

  it('a refused message records its nonce where its accept would have: a replay of the nonce is replayed_nonce', async () => {
    const nonce = freshNonce()
    const timestamp = Math.floor(Date.now() / 1000)
    const refused = await runtimeFetch(h.base, { method: 'POST', url: '/v1/m%65ssages', body: JSON.stringify({ to: 'beta', kind: 'task.request' }), credentials: alpha, contentType: 'application/json', nonce, timestamp })
    expect([refused.status, ((await refused.json()) as { reason: string }).reason]).toEqual([400, 'invalid_request'])
    const replay = await runtimeFetch(h.base, { method: 'POST', url: '/v1/messages', body: MESSAGE, credentials: alpha, contentType: 'application/json', nonce, timestamp })
    expect([replay.status, ((await replay.json()) as { reason: string }).reason]).toEqual([401, 'replayed_nonce'])
    expect(await delivered(h, 'beta')).toEqual([])
  })
})
