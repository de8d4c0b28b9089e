import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { runtimeHeaders } from '../helpers/runtime.js'

let h: GatewayHarness
let alpha: IssuedRuntime
let beta: IssuedRuntime

beforeAll(async () => {
  h = await gatewayHarness()
  await h.register('alpha')
  await h.register('beta')
  alpha = await h.issue('alpha')
  beta = await h.issue('beta')
})
afterAll(async () => { await h.close() })

type Frame = { type: string; [field: string]: unknown }

async function open(credentials: IssuedRuntime): Promise<{ socket: WebSocket; frames: Frame[] }> {
  const headers = runtimeHeaders({ method: 'GET', url: '/v1/connect', credentials, authority: h.t.config.publicAuthority })
  const socket = new WebSocket(`${h.base.replace('http', 'ws')}/v1/connect`, { headers })
  const frames: Frame[] = []
  socket.on('message', (data) => frames.push(JSON.parse(data.toString()) as Frame))
  await new Promise((resolve, reject) => {
    socket.once('open', resolve)
    socket.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)))
  })
  return { socket, frames }
}

const answer = async (frames: Frame[], ref: string): Promise<Frame> => {
  await expect.poll(() => frames.find((f) => f.ref === ref)).toBeDefined()
  return frames.find((f) => f.ref === ref) as Frame
}

describe('GET /v1/connect: nack, extend and reject frames', () => {
  it('answers each with a typed frame carrying its ref; reject dead-letters and tells the sender', async () => {
    const { socket, frames } = await open(beta)
    const [first, second] = [await h.send(alpha, { to: 'beta', kind: 'k', payload: 1 }), await h.send(alpha, { to: 'beta', kind: 'k', payload: 2 })]
    await expect.poll(() => frames.filter((f) => f.type === 'message').length).toBe(2)

    socket.send(JSON.stringify({ type: 'extend', ids: [first.body.id], seconds: 600, ref: 'e1' }))
    expect(await answer(frames, 'e1')).toEqual({ type: 'extended', ids: [first.body.id], extended: 1, ref: 'e1' })
    socket.send(JSON.stringify({ type: 'reject', ids: [second.body.id], reason: 'no', ref: 'r1' }))
    expect(await answer(frames, 'r1')).toEqual({ type: 'rejected', ids: [second.body.id], rejected: 1, ref: 'r1' })
    socket.send(JSON.stringify({ type: 'nack', ids: [first.body.id], delay_seconds: 0, ref: 'n1' }))
    expect(await answer(frames, 'n1')).toEqual({ type: 'nacked', ids: [first.body.id], nacked: 1, ref: 'n1' })
    await expect.poll(() => frames.filter((f) => f.type === 'message' && (f.message as { id: string }).id === first.body.id).length).toBe(2) // pushed again after the nack

    const receipts = (await h.call({ method: 'GET', url: '/v1/inbox', credentials: alpha })).body.messages
    expect(receipts.map((m: { kind: string; payload: { message_id: string } }) => [m.kind, m.payload.message_id])).toEqual([['mecha.delivery.failed', second.body.id]])

    socket.send(JSON.stringify({ type: 'extend', ids: [first.body.id], ref: 'bad' }))
    expect(await answer(frames, 'bad')).toMatchObject({ type: 'error', reason: 'invalid_request' })
    socket.close()
  })
})
