import { fileURLToPath } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { OperatorAuthenticator, loadOperatorVerifier } from '../../src/control-plane/operator-auth.js'
import { loadConfig } from '../../src/config/load.js'
import { OPERATORS, admin, bearer, testApp, type TestApp } from '../helpers/app.js'

let t: TestApp
beforeEach(async () => { t = await testApp() })
afterEach(async () => { await t.close() })

const list = (headers: Record<string, string>) => t.app.inject({ method: 'GET', url: '/v1/mechas', headers })

describe('operator routes: refused without valid credentials', () => {
  it('no Authorization header -> 401 missing_credentials', async () => {
    const res = await list({})
    expect(res.statusCode).toBe(401)
    expect(res.json()).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'missing_credentials' })
  })
  it.each(['Basic abc', 'Bearer', 'Bearer a b', 'token'])('malformed %j -> 401 malformed_credentials', async (value) => {
    expect((await list({ authorization: value })).json().reason).toBe('malformed_credentials')
  })
  it('an unknown token -> 401 invalid_operator_token, token not echoed', async () => {
    const guess = `guess_${'g'.repeat(40)}`
    const res = await list(bearer(guess))
    expect(res.statusCode).toBe(401)
    expect(res.json().reason).toBe('invalid_operator_token')
    expect(res.body).not.toContain(guess)
  })
  it('a token differing in one character -> 401', async () => {
    const almost = `${OPERATORS.admin.slice(0, -1)}b`
    expect((await list(bearer(almost))).statusCode).toBe(401)
  })
  it('a Mecha key is not an operator token', async () => {
    await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id: 'alpha' } })
    const token = (await t.app.inject({ method: 'POST', url: '/v1/mechas/alpha/keys', headers: admin, payload: {} })).json().token
    expect((await list(bearer(token))).json().reason).toBe('invalid_operator_token')
  })
})

describe('operator routes: scopes', () => {
  it('keys:read may read but not write -> 403 missing_scope', async () => {
    const reader = bearer(OPERATORS.reader)
    expect((await list(reader)).statusCode).toBe(200)
    const res = await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: reader, payload: { id: 'x' } })
    expect(res.statusCode).toBe(403)
    expect(res.json()).toMatchObject({ code: 'FORBIDDEN', reason: 'missing_scope' })
    expect(await t.store.getMecha('x')).toBeUndefined()
  })
  it('audit:read only reads the audit log', async () => {
    const auditor = bearer(OPERATORS.auditor)
    expect((await t.app.inject({ method: 'GET', url: '/v1/audit', headers: auditor })).statusCode).toBe(200)
    expect((await list(auditor)).statusCode).toBe(403)
    expect((await t.app.inject({ method: 'GET', url: '/v1/audit', headers: bearer(OPERATORS.reader) })).statusCode).toBe(403)
  })
  it('authentication runs before body parsing: an unauthenticated bad body is 401, not 400', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: { 'content-type': 'application/json' }, payload: '{bad' })
    expect(res.statusCode).toBe(401)
  })
})

describe('custom verifier (MECHA_OPERATOR_VERIFIER)', () => {
  const path = fileURLToPath(new URL('../fixtures/operator-verifier.mjs', import.meta.url))

  it('accepts what the verifier accepts, keeping only known scopes; static tokens still work', async () => {
    const config = loadConfig({ MECHA_OPERATOR_TOKENS_JSON: JSON.stringify({ [OPERATORS.admin]: 'alice' }), MECHA_OPERATOR_VERIFIER: path })
    const auth = new OperatorAuthenticator(config.operatorTokens, await loadOperatorVerifier(path))
    expect(await auth.authenticate('vault-token-for-victor-0123456789abcdef')).toEqual({ operator: 'victor', scopes: ['keys:read'] })
    expect(await auth.authenticate(OPERATORS.admin)).toEqual({ operator: 'alice', scopes: ['keys:read', 'keys:write', 'audit:read'] })
    expect(await auth.authenticate('unknown-token-0123456789abcdef0123456789')).toBeNull()
  })

  it('a verifier that throws or answers badly is a fault (answered 503 by the plugin), never an authentication', async () => {
    const auth = new OperatorAuthenticator([], await loadOperatorVerifier(path))
    await expect(auth.authenticate('vault-token-that-breaks-0123456789abcd')).rejects.toThrow('operator verifier threw')
    await expect(auth.authenticate('vault-token-bad-shape-0123456789abcdef')).rejects.toThrow('invalid operator name')
  })

  it('over HTTP: a failing verifier is 503 verifier_unavailable, nothing changes, and the token is not logged', async () => {
    const v = await testApp({ MECHA_OPERATOR_VERIFIER: path })
    try {
      const broken = 'vault-token-that-breaks-0123456789abcd'
      const res = await v.app.inject({ method: 'POST', url: '/v1/mechas', headers: bearer(broken), payload: { id: 'never' } })
      expect(res.statusCode).toBe(503)
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(res.json()).toMatchObject({ code: 'UNAVAILABLE', reason: 'verifier_unavailable' })
      const badShape = await v.app.inject({ method: 'GET', url: '/v1/mechas', headers: bearer('vault-token-bad-shape-0123456789abcdef') })
      expect(badShape.json()).toMatchObject({ reason: 'verifier_unavailable' })
      // what the verifier accepts works over HTTP too, with only the scopes it granted
      const victor = bearer('vault-token-for-victor-0123456789abcdef')
      expect((await v.app.inject({ method: 'GET', url: '/v1/mechas', headers: victor })).statusCode).toBe(200)
      expect((await v.app.inject({ method: 'POST', url: '/v1/mechas', headers: victor, payload: { id: 'nope' } })).json()).toMatchObject({ reason: 'missing_scope' })
      expect((await v.app.inject({ method: 'GET', url: '/v1/mechas', headers: admin })).json().mechas).toEqual([])
      expect(v.logs.join('\n')).not.toContain(broken)
    } finally {
      await v.close()
    }
  })

  it('a module without verifyToken fails at start-up', async () => {
    const notAVerifier = fileURLToPath(new URL('../helpers/records.ts', import.meta.url))
    await expect(loadOperatorVerifier(notAVerifier)).rejects.toThrow('does not export a verifyToken')
  })
})
