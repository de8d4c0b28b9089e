import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'

let h: GatewayHarness
let alpha: IssuedRuntime
let beta: IssuedRuntime
beforeEach(async () => {
  h = await gatewayHarness({ MECHA_METRICS: 'on' })
  for (const id of ['alpha', 'beta']) await h.register(id)
  alpha = await h.issue('alpha')
  beta = await h.issue('beta')
})
afterEach(async () => { await h.close() })

async function deadLettered(reason: string): Promise<number | undefined> {
  const text = (await h.t.app.inject({ method: 'GET', url: '/metrics' })).body
  const line = text.split('\n').find((l) => l.startsWith(`mecharim_dead_lettered_total{reason="${reason}"}`))
  return line === undefined ? undefined : Number(line.split(' ').at(-1))
}

describe('mecharim_dead_lettered_total{reason}', () => {
  it('counts each message moved to the dead letters, by reason, from 0', async () => {
    expect(await deadLettered('rejected')).toBe(0)
    expect(await deadLettered('max_deliveries')).toBe(0)
    expect(await deadLettered('expired')).toBe(0)
    const sent = await h.send(alpha, { to: 'beta', kind: 'task', payload: 1 })
    await h.call({ method: 'GET', url: '/v1/inbox', credentials: beta })
    expect((await h.call({ method: 'POST', url: '/v1/inbox/reject', body: JSON.stringify({ ids: [sent.body.id] }), credentials: beta })).body).toEqual({ rejected: 1 })
    expect(await deadLettered('rejected')).toBe(1)
    expect(await deadLettered('expired')).toBe(0)
  })
})
