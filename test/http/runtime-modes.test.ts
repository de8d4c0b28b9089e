import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { admin } from '../helpers/app.js'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { freshNonce, type RuntimeRequestOptions } from '../helpers/runtime.js'

let h: GatewayHarness
let manager: IssuedRuntime
let plain: IssuedRuntime

beforeAll(async () => {
  h = await gatewayHarness()
  await h.register('alpha')
  manager = await h.issue('alpha', { signature: { algorithms: ['hmac-sha256', 'ed25519'] }, permissions: { sessions: { can_manage_modes: true } } })
  plain = await h.issue('alpha')
})
afterAll(async () => { await h.close() })

const decision = { kinds: ['proposal', 'vote', 'commit'], description: 'Propose, vote, commit.', version: 1 }
const putMode = (name: string, body: unknown, credentials: IssuedRuntime, options: Partial<RuntimeRequestOptions> = {}) =>
  h.call({ method: 'PUT', url: `/v1/runtime/modes/${name}`, body: JSON.stringify(body), credentials, ...options })
const audit = async (type: string) => (await h.t.app.inject({ method: 'GET', url: `/v1/audit?type=${type}`, headers: admin })).json().events

describe('PUT /v1/runtime/modes/{name}: a key with permissions.sessions.can_manage_modes', () => {
  it('creates (201 with Location), then replaces (200); the mode is readable openly', async () => {
    const created = await putMode('token.v1', decision, manager)
    expect(created.status).toBe(201)
    expect(created.headers.get('location')).toBe('/v1/modes/token.v1')
    expect(created.body.mode).toMatchObject({ name: 'token.v1', ...decision, created_by: `key:${manager.keyId}`, updated_by: `key:${manager.keyId}`, revision: 1 })
    const replaced = await putMode('token.v1', { kinds: ['vote'], version: 2 }, manager)
    expect(replaced.status).toBe(200)
    expect(replaced.body.mode).toMatchObject({ kinds: ['vote'], version: 2, revision: 2 })
    const open = await fetch(`${h.base}/v1/modes/token.v1`)
    expect((await open.json()).mode).toMatchObject({ kinds: ['vote'], version: 2 })
  })

  it.each(['hmac-sha256', 'ed25519', 'token+ed25519'] as const)('signed with %s (the body covered by Content-Digest)', async (auth) => {
    const res = await putMode(`signed-${auth.replace('+', '-')}.v1`, decision, manager, { auth })
    expect(res.status).toBe(201)
  })

  it('audits the change as mode.put with the key and its mecha, no operator', async () => {
    const res = await putMode('audited.v1', decision, manager)
    expect(res.status).toBe(201)
    const event = (await audit('mode.put')).find((e: { target: { id: string } }) => e.target.id === 'audited.v1')
    expect(event).toMatchObject({ operator: null, target: { kind: 'mode', id: 'audited.v1' }, details: { key: manager.keyId, mecha: 'alpha', created: true } })
    expect(event.request_id).toBe(res.headers.get('x-request-id'))
  })
})

describe('PUT /v1/runtime/modes/{name}: refusals', () => {
  it('a key without can_manage_modes: 403 cannot_manage_modes, nothing stored, nonce recorded', async () => {
    const nonce = freshNonce()
    const res = await putMode('refused.v1', decision, plain, { nonce })
    expect(res.status).toBe(403)
    expect(res.body).toMatchObject({ code: 'FORBIDDEN', reason: 'cannot_manage_modes' })
    expect((await fetch(`${h.base}/v1/modes/refused.v1`)).status).toBe(404)
    const again = await putMode('refused.v1', decision, plain, { nonce })
    expect(again.body.reason).toBe('replayed_nonce')
  })

  it('no credentials: 401 missing_credentials; an operator token is not a runtime credential', async () => {
    const res = await fetch(`${h.base}/v1/runtime/modes/x.v1`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(decision) })
    expect(res.status).toBe(401)
    expect((await res.json()).reason).toBe('missing_credentials')
    const op = await fetch(`${h.base}/v1/runtime/modes/x.v1`, { method: 'PUT', headers: { ...admin, 'content-type': 'application/json' }, body: JSON.stringify(decision) })
    expect(op.status).toBe(401)
  })

  it('a bad body: 400 invalid_request; a bad name: 400 invalid_id', async () => {
    expect((await putMode('bad.v1', { kinds: ['vote', 'vote'], version: 1 }, manager)).body.reason).toBe('invalid_request')
    expect((await putMode('bad.v1', { kinds: ['vote'] }, manager)).body.reason).toBe('invalid_request')
    const badName = await putMode('Bad', decision, manager)
    expect(badName.status).toBe(400)
    expect(badName.body.reason).toBe('invalid_id')
  })

  it('the permission is checked after the schema: a key without it and a bad body gets the 400', async () => {
    expect((await putMode('bad.v1', { kinds: [] , version: 1 }, plain)).body.reason).toBe('invalid_request')
  })
})
