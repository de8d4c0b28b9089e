import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { OPERATORS, admin, bearer, testApp, type TestApp } from '../helpers/app.js'

let t: TestApp
beforeEach(async () => { t = await testApp() })
afterEach(async () => { await t.close() })

const decision = { kinds: ['proposal', 'vote', 'commit'], description: 'Propose, vote, commit.', version: 1 }
const put = (name: string, body: unknown, headers: Record<string, string> = admin) =>
  t.app.inject({ method: 'PUT', url: `/v1/modes/${name}`, headers, payload: body as object })

describe('PUT /v1/modes/{name}: an operator creates and replaces a mode', () => {
  it('creates (201 with Location), then replaces (200), keeping who created it', async () => {
    const created = await put('decision.v1', decision)
    expect(created.statusCode).toBe(201)
    expect(created.headers.location).toBe('/v1/modes/decision.v1')
    expect(created.json().mode).toMatchObject({ name: 'decision.v1', ...decision, created_by: 'alice', updated_by: 'alice', revision: 1 })

    const replaced = await put('decision.v1', { kinds: ['proposal', 'vote'], version: 2 })
    expect(replaced.statusCode).toBe(200)
    expect(replaced.headers.location).toBeUndefined()
    expect(replaced.json().mode).toMatchObject({ kinds: ['proposal', 'vote'], description: null, version: 2, created_by: 'alice', revision: 2 })
  })

  it('sending the stored mode again changes nothing and records nothing', async () => {
    await put('decision.v1', decision)
    const again = await put('decision.v1', decision)
    expect(again.statusCode).toBe(200)
    expect(again.json().mode.revision).toBe(1)
    const log = (await t.app.inject({ method: 'GET', url: '/v1/audit?type=mode.put', headers: admin })).json().events
    expect(log).toHaveLength(1)
  })
})

describe('GET /v1/modes: open, without credentials', () => {
  it('lists modes by name and reads one', async () => {
    await put('review.v1', { kinds: ['request', 'verdict'], version: 1 })
    await put('decision.v1', decision)
    const list = await t.app.inject({ method: 'GET', url: '/v1/modes' })
    expect(list.statusCode).toBe(200)
    expect(list.json().modes.map((m: { name: string }) => m.name)).toEqual(['decision.v1', 'review.v1'])
    const one = await t.app.inject({ method: 'GET', url: '/v1/modes/decision.v1' })
    expect(one.statusCode).toBe(200)
    expect(one.json().mode).toMatchObject({ name: 'decision.v1', kinds: decision.kinds })
  })

  it('an unknown mode is 404 unknown_mode, and so is a malformed name (the open read validates nothing)', async () => {
    for (const name of ['missing.v1', 'Bad', '%20']) {
      const missing = await t.app.inject({ method: 'GET', url: `/v1/modes/${name}` })
      expect(missing.statusCode).toBe(404)
      expect(missing.json()).toMatchObject({ code: 'NOT_FOUND', reason: 'unknown_mode' })
    }
  })

  it('an empty registry lists nothing', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/v1/modes' })).json()).toEqual({ modes: [] })
  })
})

describe('DELETE /v1/modes/{name}', () => {
  it('deletes (204), then the mode is gone (404 unknown_mode on read and on a second delete)', async () => {
    await put('decision.v1', decision)
    const deleted = await t.app.inject({ method: 'DELETE', url: '/v1/modes/decision.v1', headers: admin })
    expect(deleted.statusCode).toBe(204)
    expect(deleted.body).toBe('')
    expect((await t.app.inject({ method: 'GET', url: '/v1/modes/decision.v1' })).statusCode).toBe(404)
    const again = await t.app.inject({ method: 'DELETE', url: '/v1/modes/decision.v1', headers: admin })
    expect(again.statusCode).toBe(404)
    expect(again.json().reason).toBe('unknown_mode')
  })
})

describe('mode writes need keys:write', () => {
  it('a keys:read token cannot PUT or DELETE (403 missing_scope); no credentials is 401', async () => {
    const reader = bearer(OPERATORS.reader)
    expect((await put('decision.v1', decision, reader)).json()).toMatchObject({ reason: 'missing_scope' })
    expect((await put('decision.v1', decision, reader)).statusCode).toBe(403)
    await put('decision.v1', decision)
    const del = await t.app.inject({ method: 'DELETE', url: '/v1/modes/decision.v1', headers: reader })
    expect(del.statusCode).toBe(403)
    expect((await put('decision.v1', decision, {})).statusCode).toBe(401)
    expect((await t.app.inject({ method: 'GET', url: '/v1/modes/decision.v1' })).statusCode).toBe(200)
  })
})

describe('PUT /v1/modes/{name}: refuses bad bodies with stable reasons', () => {
  it.each([
    ['no kinds', { version: 1 }],
    ['empty kinds', { kinds: [], version: 1 }],
    ['duplicate kinds', { kinds: ['vote', 'vote'], version: 1 }],
    ['a malformed kind', { kinds: ['vo te'], version: 1 }],
    ['65 kinds', { kinds: Array.from({ length: 65 }, (_, i) => `k${i}`), version: 1 }],
    ['no version', { kinds: ['vote'] }],
    ['version 0', { kinds: ['vote'], version: 0 }],
    ['a string version', { kinds: ['vote'], version: '1.0' }],
    ['an unknown field', { kinds: ['vote'], version: 1, admin: true }],
    ['a long description', { kinds: ['vote'], version: 1, description: 'x'.repeat(2001) }],
  ])('%s: 400 invalid_request', async (_label, body) => {
    const res = await put('decision.v1', body)
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'invalid_request' })
    expect((await t.app.inject({ method: 'GET', url: '/v1/modes' })).json().modes).toEqual([])
  })

  it.each(['Decision.v1', '1decision', '-a', 'a'.repeat(65), 'a:b'])('name %j: 400 invalid_id', async (name) => {
    const res = await put(encodeURIComponent(name), decision)
    expect(res.statusCode).toBe(400)
    expect(res.json().reason).toBe('invalid_id')
  })
})

describe('mode changes are audited', () => {
  it('records mode.put and mode.deleted with the operator and the mode as target', async () => {
    const created = await put('decision.v1', decision)
    await t.app.inject({ method: 'DELETE', url: '/v1/modes/decision.v1', headers: admin })
    const log = (await t.app.inject({ method: 'GET', url: '/v1/audit', headers: admin })).json().events
    expect(log.map((e: { type: string }) => e.type)).toEqual(['mode.deleted', 'mode.put'])
    expect(log[1]).toMatchObject({ operator: 'alice', target: { kind: 'mode', id: 'decision.v1' }, request_id: created.headers['x-request-id'], details: { created: true } })
    expect(log[0]).toMatchObject({ operator: 'alice', target: { kind: 'mode', id: 'decision.v1' } })
  })
})
