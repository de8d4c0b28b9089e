import { afterEach, describe, expect, it } from 'vitest'
import { admin, testApp, type TestApp } from '../helpers/app.js'

let t: TestApp | undefined
afterEach(async () => { await t?.close() })

const DEFAULTS = { max_deliveries: 5, backoff_seconds: [], visibility_seconds: 30, dead_letter_ttl_seconds: 1_209_600 }

async function app(env = {}): Promise<TestApp> {
  t = await testApp(env)
  expect((await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id: 'alpha' } })).statusCode).toBe(201)
  return t
}
const patch = (a: TestApp, payload: unknown) => a.app.inject({ method: 'PATCH', url: '/v1/mechas/alpha', headers: admin, payload: payload as object })
const get = async (a: TestApp) => (await a.app.inject({ method: 'GET', url: '/v1/mechas/alpha', headers: admin })).json().mecha

describe('PATCH /v1/mechas/{id} delivery: sets the recipient\'s delivery policy', () => {
  it('shows the configured defaults until an operator sets one', async () => {
    const a = await app()
    expect((await get(a)).delivery).toEqual(DEFAULTS)
    const configured = await testApp({ MECHA_MAX_DELIVERIES: '2', MECHA_DELIVERY_BACKOFF_SECONDS: '1,2' })
    try {
      await configured.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id: 'beta' } })
      const beta = (await configured.app.inject({ method: 'GET', url: '/v1/mechas/beta', headers: admin })).json().mecha
      expect(beta.delivery).toEqual({ ...DEFAULTS, max_deliveries: 2, backoff_seconds: [1, 2] })
    } finally {
      await configured.close()
    }
  })

  it('sets fields, keeps the ones not given, null goes back to the defaults; each change audited', async () => {
    const a = await app()
    const set = await patch(a, { delivery: { max_deliveries: 3, backoff_seconds: [5, 30, 300] } })
    expect(set.statusCode).toBe(200)
    expect(set.json().mecha.delivery).toEqual({ ...DEFAULTS, max_deliveries: 3, backoff_seconds: [5, 30, 300] })
    const more = await patch(a, { delivery: { visibility_seconds: 60, dead_letter_ttl_seconds: 3600 } })
    expect(more.json().mecha.delivery).toEqual({ max_deliveries: 3, backoff_seconds: [5, 30, 300], visibility_seconds: 60, dead_letter_ttl_seconds: 3600 })
    expect((await get(a)).delivery).toEqual(more.json().mecha.delivery)
    expect((await patch(a, { delivery: null })).json().mecha.delivery).toEqual(DEFAULTS)

    const audit = (await a.app.inject({ method: 'GET', url: '/v1/audit', headers: admin })).json().events as { type: string; details: { fields: string[] } }[]
    expect(audit.filter((e) => e.type === 'mecha.updated').map((e) => e.details.fields)).toEqual([['delivery'], ['delivery'], ['delivery']])
  })

  it.each([
    [{ max_deliveries: 0 }],
    [{ max_deliveries: 1001 }],
    [{ backoff_seconds: Array.from({ length: 11 }, () => 1) }],
    [{ backoff_seconds: [-1] }],
    [{ visibility_seconds: 43_201 }],
    [{ dead_letter_ttl_seconds: 59 }],
    [{ max_deliveries: 2, retries: 1 }],
    [{}],
  ])('refuses %j with 400 invalid_request, changing nothing', async (delivery) => {
    const a = await app()
    const res = await patch(a, { delivery })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ reason: 'invalid_request' })
    expect((await get(a)).delivery).toEqual(DEFAULTS)
  })
})
