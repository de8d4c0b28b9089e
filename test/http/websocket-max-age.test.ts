import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { gatewayHarness, type GatewayHarness } from '../helpers/gateway.js'
import { runtimeHeaders } from '../helpers/runtime.js'

let h: GatewayHarness
beforeAll(async () => {
  h = await gatewayHarness({ MECHA_WS_MAX_AGE_SECONDS: '1' })
  await h.register('alpha')
})
afterAll(async () => { await h.close() })

describe('GET /v1/connect at MECHA_WS_MAX_AGE_SECONDS', () => {
  it('sends a closing frame with reason reauthenticate, then closes with 1008', async () => {
    const key = await h.issue('alpha')
    const headers = runtimeHeaders({ method: 'GET', url: '/v1/connect', credentials: key, authority: h.t.config.publicAuthority })
    const socket = new WebSocket(`${h.base.replace('http', 'ws')}/v1/connect`, { headers })
    const frames: { type: string; reason?: string; detail?: string }[] = []
    socket.on('message', (data) => frames.push(JSON.parse(data.toString()) as { type: string }))
    const closed = await new Promise<{ code: number; reason: string }>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
    expect(frames.map((f) => f.type)).toEqual(['ready', 'closing'])
    expect(frames[1]).toEqual({ type: 'closing', reason: 'reauthenticate', detail: expect.stringContaining('MECHA_WS_MAX_AGE_SECONDS'), request_id: expect.stringMatching(/^req_/) })
    expect(closed).toEqual({ code: 1008, reason: 'reauthenticate' })
  })
})
