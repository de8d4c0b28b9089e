import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { OPERATORS, admin, bearer, testApp, type TestApp } from '../helpers/app.js'

let t: TestApp
beforeEach(async () => { t = await testApp() })
afterEach(async () => { await t.close() })

async function events(query = '') {
  const res = await t.app.inject({ method: 'GET', url: `/v1/audit${query}`, headers: admin })
  expect(res.statusCode).toBe(200)
  return res.json() as { events: { type: string; operator: string | null; target: { id: string }; request_id: string; details: Record<string, unknown> }[]; next: string | null }
}

describe('audit trail: every change is recorded', () => {
  it('records the lifecycle with operator, target and request id', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id: 'alpha' } })
    await t.app.inject({ method: 'PATCH', url: '/v1/mechas/alpha', headers: admin, payload: { name: 'A' } })
    const keyId = (await t.app.inject({ method: 'POST', url: '/v1/mechas/alpha/keys', headers: admin, payload: {} })).json().key.id
    await t.app.inject({ method: 'PATCH', url: `/v1/keys/${keyId}`, headers: admin, payload: { label: 'l' } })
    await t.app.inject({ method: 'POST', url: `/v1/keys/${keyId}/rotate`, headers: admin, payload: { grace_seconds: 10 } })
    await t.app.inject({ method: 'POST', url: `/v1/keys/${keyId}/revoke`, headers: admin })
    await t.app.inject({ method: 'DELETE', url: '/v1/mechas/alpha', headers: admin })
    const { events: log } = await events()
    expect(log.map((e) => e.type)).toEqual([
      'mecha.deactivated', 'key.revoked', 'key.rotated', 'key.updated', 'key.issued', 'mecha.updated', 'mecha.created',
    ])
    expect(log.every((e) => e.operator === 'alice')).toBe(true)
    expect(log.at(-1)?.request_id).toBe(created.headers['x-request-id'])
    expect(log.find((e) => e.type === 'key.rotated')).toMatchObject({ target: { id: keyId }, details: { generation: 2, grace_seconds: 10 } })
  })
})

describe('audit trail: refused operator requests are recorded', () => {
  it('records unauthenticated, out-of-scope and invalid requests without the token', async () => {
    const guess = `guess_${'g'.repeat(40)}`
    await t.app.inject({ method: 'GET', url: '/v1/mechas', headers: bearer(guess) })
    await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: bearer(OPERATORS.reader), payload: { id: 'x' } })
    await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id: 'BAD' } })
    const { events: log } = await events('?type=operator.refused')
    expect(log.map((e) => [e.operator, e.details.reason, e.details.status])).toEqual([
      ['alice', 'invalid_id', 400],
      ['rita', 'missing_scope', 403],
      [null, 'invalid_operator_token', 401],
    ])
    expect(JSON.stringify(log)).not.toContain(guess)
  })
})

describe('GET /v1/audit: paging and filters', () => {
  it('pages with before/next and filters by type', async () => {
    for (const id of ['a', 'b', 'c']) await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id } })
    const first = await events('?limit=2')
    expect(first.events.map((e) => e.target.id)).toEqual(['c', 'b'])
    const second = await events(`?limit=2&before=${first.next}`)
    expect(second.events.map((e) => e.target.id)).toEqual(['a'])
    expect(second.next).toBeNull()
  })
  it('refuses a malformed cursor or type', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/v1/audit?before=zzz', headers: admin })).json().reason).toBe('invalid_cursor')
    expect((await t.app.inject({ method: 'GET', url: '/v1/audit?type=key.exploded', headers: admin })).json().reason).toBe('invalid_request')
  })
})
