import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { admin } from '../helpers/app.js'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { runtimeHeaders } from '../helpers/runtime.js'

let h: GatewayHarness
let alpha: IssuedRuntime

beforeAll(async () => {
  h = await gatewayHarness()
  await h.register('alpha')
  await h.register('beta')
  alpha = await h.issue('alpha')
})
afterAll(async () => { await h.close() })

function open(credentials: IssuedRuntime): Promise<{ socket: WebSocket; frames: unknown[]; closed: Promise<{ code: number; reason: string }> }> {
  const headers = runtimeHeaders({ method: 'GET', url: '/v1/connect', credentials, authority: h.t.config.publicAuthority })
  const socket = new WebSocket(`${h.base.replace('http', 'ws')}/v1/connect`, { headers })
  const frames: unknown[] = []
  socket.on('message', (data) => frames.push(JSON.parse(data.toString())))
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ socket, frames, closed }))
    socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
  })
}

describe('GET /v1/connect', () => {
  it('pushes a message sent over HTTP and takes the ack over the socket', async () => {
    const beta = await h.issue('beta')
    const { socket, frames } = await open(beta)
    const sent = await h.send(alpha, { to: 'beta', kind: 'k', payload: 'hi' })
    expect(sent.status).toBe(202)
    await expect.poll(() => frames.find((f) => (f as { type: string }).type === 'message')).toBeDefined()
    socket.send(JSON.stringify({ type: 'ack', ids: [sent.body.id] }))
    await expect.poll(() => frames.find((f) => (f as { type: string }).type === 'acked')).toMatchObject({ acknowledged: 1 })
    socket.close()
  })

  it('refuses the upgrade without credentials, and closes the socket itself (regression: a refused upgrade held shutdown open)', async () => {
    const socket = new WebSocket(`${h.base.replace('http', 'ws')}/v1/connect`)
    // The client leaves the connection open: the server must close it (or shutdown would hang).
    const status = await new Promise<number>((resolve) => socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)))
    expect(status).toBe(401)
  })

  it('closes an open socket within a second of its key being revoked', async () => {
    const key = await h.issue('beta')
    const { closed } = await open(key)
    const revokedAt = Date.now()
    await h.t.app.inject({ method: 'POST', url: `/v1/keys/${key.keyId}/revoke`, headers: admin })
    const { code, reason } = await closed
    expect(Date.now() - revokedAt).toBeLessThan(1000)
    expect({ code, reason }).toEqual({ code: 1008, reason: 'invalid_key' })
  })
})

describe('runtime GETs have no HEAD twin', () => {
  it('HEAD /v1/inbox neither answers nor consumes a delivery', async () => {
    const beta = await h.issue('beta')
    await h.send(alpha, { to: 'beta', kind: 'k', payload: 'kept' })
    const head = await h.call({ method: 'HEAD', url: '/v1/inbox', credentials: beta })
    expect(head.status).toBe(404)
    const inbox = await h.call({ method: 'GET', url: '/v1/inbox?limit=10', credentials: beta })
    expect(inbox.body.messages.map((m: { payload: unknown }) => m.payload)).toContain('kept')
  })
})
