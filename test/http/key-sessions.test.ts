import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { admin, testApp, type TestApp } from '../helpers/app.js'
import { keyRecord, auditEvent } from '../helpers/records.js'

let t: TestApp
beforeEach(async () => {
  t = await testApp()
  await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id: 'alpha' } })
})
afterEach(async () => { await t.close() })

const MACP_DEFAULTS = { can_start: true, max_open: null, modes: ['*'], can_manage_modes: false }
const issue = (body: object) => t.app.inject({ method: 'POST', url: '/v1/mechas/alpha/keys', headers: admin, payload: body })
const patch = (keyId: string, body: object) => t.app.inject({ method: 'PATCH', url: `/v1/keys/${keyId}`, headers: admin, payload: body })

describe('permissions.sessions: the MACP defaults', () => {
  it('a key issued without sessions has the defaults, in the issue answer and on read', async () => {
    const res = await issue({})
    expect(res.json().key.permissions.sessions).toEqual(MACP_DEFAULTS)
    const read = await t.app.inject({ method: 'GET', url: `/v1/keys/${res.json().key.id}`, headers: admin })
    expect(read.json().key.permissions.sessions).toEqual(MACP_DEFAULTS)
  })

  it('a key stored before sessions existed reads as the defaults', async () => {
    const old = keyRecord('alpha')
    await t.store.saveKey(old, null, auditEvent('key.issued', old.id))
    const read = await t.app.inject({ method: 'GET', url: `/v1/keys/${old.id}`, headers: admin })
    expect(read.json().key.permissions).toEqual({ recipients: ['*'], kinds: ['*'], max_message_bytes: 65536, sessions: MACP_DEFAULTS })
  })
})

describe('permissions.sessions: set on issue, merged field by field on update', () => {
  it('issue with some fields keeps the defaults for the others', async () => {
    const res = await issue({ permissions: { sessions: { can_manage_modes: true, max_open: 3 } } })
    expect(res.statusCode).toBe(201)
    expect(res.json().key.permissions).toMatchObject({ recipients: ['*'], sessions: { ...MACP_DEFAULTS, can_manage_modes: true, max_open: 3 } })
  })

  it('an update changes only the fields given, and other permission fields leave sessions alone', async () => {
    const keyId = (await issue({ permissions: { sessions: { can_manage_modes: true } } })).json().key.id
    const a = await patch(keyId, { permissions: { sessions: { modes: ['decision.*'] } } })
    expect(a.json().key.permissions.sessions).toEqual({ ...MACP_DEFAULTS, can_manage_modes: true, modes: ['decision.*'] })
    const b = await patch(keyId, { permissions: { kinds: ['vote'] } })
    expect(b.json().key.permissions).toMatchObject({ kinds: ['vote'], sessions: { can_manage_modes: true, modes: ['decision.*'] } })
    const c = await patch(keyId, { permissions: { sessions: { can_manage_modes: false, max_open: null } } })
    expect(c.json().key.permissions.sessions).toEqual({ ...MACP_DEFAULTS, modes: ['decision.*'] })
  })
})

describe('permissions.sessions: refuses bad values', () => {
  it.each([
    ['an unknown field', { sessions: { can_stop: true } }, 'invalid_request'],
    ['a non-boolean can_manage_modes', { sessions: { can_manage_modes: 'yes' } }, 'invalid_request'],
    ['max_open 0', { sessions: { max_open: 0 } }, 'invalid_request'],
    ['a fractional max_open', { sessions: { max_open: 1.5 } }, 'invalid_request'],
    ['a mode pattern with a space', { sessions: { modes: ['a b'] } }, 'invalid_request'],
    ['a wildcard-heavy mode pattern', { sessions: { modes: ['*a*a*a*a*a*a*a*a*a*'] } }, 'invalid_pattern'],
  ])('%s', async (_label, permissions, reason) => {
    const res = await issue({ permissions })
    expect(res.statusCode).toBe(400)
    expect(res.json().reason).toBe(reason)
  })
})
