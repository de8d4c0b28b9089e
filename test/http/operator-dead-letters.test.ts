import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { OPERATORS, admin, bearer } from '../helpers/app.js'
import { gatewayWithKeys, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'

let h: GatewayHarness
let alpha: IssuedRuntime
let beta: IssuedRuntime
beforeEach(async () => { [h, alpha, beta] = await gatewayWithKeys('alpha', 'beta') })
afterEach(async () => { await h.close() })

describe('GET /v1/mechas/{id}/dead-letters and POST .../redrive: operators see and redrive a mecha\'s dead letters', () => {
  it('lists them (keys:read), redrives them (keys:write, audited), and the mecha gets the message again', async () => {
    const sent = await h.send(alpha, { to: 'beta', kind: 'task', payload: 1 })
    await h.call({ method: 'GET', url: '/v1/inbox', credentials: beta })
    await h.call({ method: 'POST', url: '/v1/inbox/reject', body: JSON.stringify({ ids: [sent.body.id] }), credentials: beta })

    const listed = await h.t.app.inject({ method: 'GET', url: '/v1/mechas/beta/dead-letters', headers: bearer(OPERATORS.reader) })
    expect(listed.statusCode).toBe(200)
    expect(listed.json().dead_letters.map((d: { message: { id: string }; reason: string }) => [d.message.id, d.reason])).toEqual([[sent.body.id, 'rejected']])

    const byReader = await h.t.app.inject({ method: 'POST', url: '/v1/mechas/beta/dead-letters/redrive', headers: bearer(OPERATORS.reader), payload: { ids: [sent.body.id] } })
    expect(byReader.statusCode).toBe(403)
    const redriven = await h.t.app.inject({ method: 'POST', url: '/v1/mechas/beta/dead-letters/redrive', headers: admin, payload: { ids: [sent.body.id] } })
    expect(redriven.statusCode).toBe(200)
    expect(redriven.json()).toEqual({ redriven: 1 })
    const audit = (await h.t.app.inject({ method: 'GET', url: '/v1/audit?type=mecha.dead_letters_redriven', headers: admin })).json().events
    expect(audit).toMatchObject([{ operator: 'alice', target: { id: 'beta' }, details: { ids: [sent.body.id], redriven: 1 } }])
    const again = (await h.call({ method: 'GET', url: '/v1/inbox', credentials: beta })).body.messages
    expect(again.map((m: { id: string; delivery_count: number }) => [m.id, m.delivery_count])).toEqual([[sent.body.id, 1]])
  })

  it('404 mecha_not_found for an unknown mecha', async () => {
    const res = await h.t.app.inject({ method: 'GET', url: '/v1/mechas/nobody/dead-letters', headers: admin })
    expect(res.statusCode).toBe(404)
    expect(res.json().reason).toBe('mecha_not_found')
  })
})
