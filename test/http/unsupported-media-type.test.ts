import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { admin } from '../helpers/app.js'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'

// Issue 11: a 415 said only "not accepted here", not what is wanted nor what was sent.
let h: GatewayHarness
let planner: IssuedRuntime

beforeAll(async () => {
  h = await gatewayHarness()
  await h.register('planner')
  await h.register('executor')
  planner = await h.issue('planner')
})
afterAll(async () => h.close())

describe('a body that is not JSON is refused with 415 naming the expected and the received type', () => {
  it('on a control-plane route', async () => {
    const res = await fetch(`${h.base}/v1/mechas`, { method: 'POST', headers: { ...admin, 'content-type': 'text/plain' }, body: '{"id":"x1"}' })
    expect(res.status).toBe(415)
    const body = await res.json()
    expect(body.reason).toBe('unsupported_media_type')
    expect(body.detail).toBe('expected Content-Type: application/json, got text/plain')
  })

  it('on the MCP route', async () => {
    const res = await fetch(`${h.base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=b' })
    expect(res.status).toBe(415)
    expect((await res.json()).detail).toBe('expected Content-Type: application/json, got application/x-www-form-urlencoded')
  })

  it('on a runtime route, with the same words', async () => {
    const res = await h.call({ method: 'POST', url: '/v1/messages', body: 'hello', contentType: 'text/plain', credentials: planner })
    expect(res.status).toBe(415)
    expect(res.body.detail).toBe('expected Content-Type: application/json, got text/plain')
  })
})
