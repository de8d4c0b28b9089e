import { generateKeyPairSync } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { parseToken, tokenDigest } from '../../src/crypto/token.js'
import { SecretSealer } from '../../src/crypto/sealed-secret.js'
import { sealContext } from '../../src/control-plane/service.js'
import { admin, testApp, type TestApp } from '../helpers/app.js'

let t: TestApp
beforeEach(async () => {
  t = await testApp()
  await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id: 'alpha' } })
})
afterEach(async () => { await t.close() })

const PUBLIC_KEY = rawPublicKey()

function rawPublicKey(): string {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' })
  return jwk.x as string
}

async function issue(body: object = {}, mecha = 'alpha') {
  return t.app.inject({ method: 'POST', url: `/v1/mechas/${mecha}/keys`, headers: admin, payload: body })
}

describe('POST /v1/mechas/{id}/keys: issues a key', () => {
  it('returns metadata, a token once, no signing secret without hmac', async () => {
    const res = await issue({ label: 'ci runner' })
    expect(res.statusCode).toBe(201)
    expect(res.headers['cache-control']).toBe('no-store')
    const body = res.json()
    expect(body.key).toMatchObject({
      mecha: 'alpha', label: 'ci runner', status: 'active', created_by: 'alice', expires_at: null,
      permissions: { recipients: ['*'], kinds: ['*'], max_message_bytes: 65536 },
      signature: { required: false, algorithms: [] },
    })
    expect(body.signing_secret).toBeUndefined()
    const parsed = parseToken(body.token)
    expect(parsed).toEqual({ ok: true, value: { keyId: body.key.id, secret: expect.any(String) } })
    expect(res.headers.location).toBe(`/v1/keys/${body.key.id}`)
  })

  it('stores only a digest of the token secret', async () => {
    const body = (await issue()).json()
    const stored = await t.store.getKey(body.key.id)
    const parsed = parseToken(body.token)
    if (!parsed.ok) throw new Error('token did not parse')
    expect(stored?.credentials[0]?.token_digest).toBe(tokenDigest(parsed.value.secret))
    expect(JSON.stringify(stored)).not.toContain(parsed.value.secret)
  })

  it('with hmac-sha256 returns a signing secret once and stores it sealed', async () => {
    const body = (await issue({ signature: { required: true, algorithms: ['hmac-sha256'] } })).json()
    expect(body.signing_secret).toMatch(/^mss_[A-Za-z0-9_-]{43}$/)
    const stored = await t.store.getKey(body.key.id)
    const sealed = stored?.credentials[0]?.signing_secret_enc ?? ''
    expect(sealed).toMatch(/^v1\./)
    expect(JSON.stringify(stored)).not.toContain(body.signing_secret)
    expect(new SecretSealer(t.masterKey).open(sealed, sealContext(body.key.id, 1))).toBe(body.signing_secret)
    const again = await t.app.inject({ method: 'GET', url: `/v1/keys/${body.key.id}`, headers: admin })
    expect(again.body).not.toContain(body.signing_secret)
    expect(again.json().key.credentials).toEqual([{ generation: 1, created_at: expect.any(String), expires_at: null, signing_secret: true }])
  })

  it('with ed25519 keeps the public keys and returns no secret', async () => {
    const body = (await issue({ signature: { algorithms: ['ed25519'] }, public_keys: [PUBLIC_KEY] })).json()
    expect(body.key.public_keys).toEqual([PUBLIC_KEY])
    expect(body.signing_secret).toBeUndefined()
  })

  it('honours ttl_seconds and custom permissions', async () => {
    const before = Date.now()
    const body = (await issue({ ttl_seconds: 60, permissions: { recipients: ['beta', 'ops-*'], kinds: ['task.*'], max_message_bytes: 1024 }, rate_limit: { requests: 10, per_seconds: 1 } })).json()
    expect(Date.parse(body.key.expires_at) - before).toBeGreaterThanOrEqual(59_000)
    expect(body.key.permissions).toEqual({
      recipients: ['beta', 'ops-*'], kinds: ['task.*'], max_message_bytes: 1024,
      sessions: { can_start: true, max_open: null, modes: ['*'], can_manage_modes: false },
    })
    expect(body.key.rate_limit).toEqual({ requests: 10, per_seconds: 1 })
  })
})

describe('POST /v1/mechas/{id}/keys: refuses', () => {
  it.each([
    [{ signature: { required: true, algorithms: [] } }, 'invalid_signature_policy'],
    [{ signature: { algorithms: ['ed25519'] } }, 'invalid_signature_policy'],
    [{ public_keys: [PUBLIC_KEY] }, 'invalid_signature_policy'],
    [{ signature: { algorithms: ['ed25519'] }, public_keys: [`${'A'.repeat(42)}B`] }, 'invalid_public_key'],
    [{ signature: { algorithms: ['ed25519'] }, public_keys: ['A'.repeat(43)] }, 'invalid_public_key'],
    [{ signature: { algorithms: ['ed25519'] }, public_keys: [PUBLIC_KEY, PUBLIC_KEY] }, 'invalid_public_key'],
    [{ signature: { algorithms: ['rsa'] } }, 'invalid_request'],
    [{ expires_at: '2001-01-01T00:00:00Z' }, 'invalid_expiry'],
    [{ expires_at: '2999-01-01T00:00:00Z', ttl_seconds: 5 }, 'invalid_expiry'],
    [{ permissions: { recipients: ['**********'] } }, 'invalid_pattern'],
    [{ permissions: { recipients: ['a b'] } }, 'invalid_request'],
    [{ permissions: { max_message_bytes: 0 } }, 'invalid_request'],
    [{ ttl_seconds: 0 }, 'invalid_request'],
  ])('%j -> %s', async (body, reason) => {
    const res = await issue(body)
    expect(res.statusCode).toBe(400)
    expect(res.json().reason).toBe(reason)
    expect(await t.store.listKeys('alpha')).toEqual([])
  })

  it('an unknown mecha with mecha_not_found', async () => {
    const res = await issue({}, 'ghost')
    expect(res.statusCode).toBe(404)
    expect(res.json().reason).toBe('mecha_not_found')
  })

  it('a deactivated mecha with mecha_inactive', async () => {
    await t.app.inject({ method: 'DELETE', url: '/v1/mechas/alpha', headers: admin })
    const res = await issue()
    expect(res.statusCode).toBe(409)
    expect(res.json().reason).toBe('mecha_inactive')
  })
})

describe('key status', () => {
  it('reports revoked, expired and mecha_inactive', async () => {
    const revoked = (await issue()).json().key.id
    await t.app.inject({ method: 'POST', url: `/v1/keys/${revoked}/revoke`, headers: admin })
    const expiring = (await issue({ ttl_seconds: 1 })).json().key.id
    await new Promise((r) => setTimeout(r, 1100))
    const byMecha = (await t.app.inject({ method: 'GET', url: '/v1/mechas/alpha/keys', headers: admin })).json().keys
    expect(Object.fromEntries(byMecha.map((k: { id: string; status: string }) => [k.id, k.status]))).toEqual({ [revoked]: 'revoked', [expiring]: 'expired' })
    const live = (await issue()).json().key.id
    await t.app.inject({ method: 'DELETE', url: '/v1/mechas/alpha', headers: admin })
    expect((await t.app.inject({ method: 'GET', url: `/v1/keys/${live}`, headers: admin })).json().key.status).toBe('mecha_inactive')
    expect((await t.app.inject({ method: 'GET', url: `/v1/keys/${revoked}`, headers: admin })).json().key.status).toBe('revoked')
  })
})

describe('PATCH /v1/keys/{keyId}', () => {
  it('changes label, permissions (merged) and expiry', async () => {
    const id = (await issue({ permissions: { kinds: ['a'] } })).json().key.id
    const res = await t.app.inject({ method: 'PATCH', url: `/v1/keys/${id}`, headers: admin, payload: { label: 'new', permissions: { recipients: ['beta'] }, expires_at: '2999-01-01T00:00:00Z' } })
    expect(res.statusCode).toBe(200)
    expect(res.json().key).toMatchObject({ label: 'new', permissions: { recipients: ['beta'], kinds: ['a'], max_message_bytes: 65536 }, expires_at: '2999-01-01T00:00:00.000Z' })
  })

  it('refuses to add hmac-sha256 without a signing secret', async () => {
    const id = (await issue()).json().key.id
    const res = await t.app.inject({ method: 'PATCH', url: `/v1/keys/${id}`, headers: admin, payload: { signature: { algorithms: ['hmac-sha256'] } } })
    expect(res.statusCode).toBe(400)
    expect(res.json().reason).toBe('invalid_signature_policy')
  })

  it('refuses changes to a revoked key', async () => {
    const id = (await issue()).json().key.id
    await t.app.inject({ method: 'POST', url: `/v1/keys/${id}/revoke`, headers: admin })
    const res = await t.app.inject({ method: 'PATCH', url: `/v1/keys/${id}`, headers: admin, payload: { label: 'x' } })
    expect(res.statusCode).toBe(409)
    expect(res.json().reason).toBe('key_revoked')
  })

  it('refuses a malformed key id with invalid_id, an unknown one with key_not_found', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/v1/keys/nope', headers: admin })).json().reason).toBe('invalid_id')
    const res = await t.app.inject({ method: 'GET', url: `/v1/keys/mk${'a'.repeat(24)}`, headers: admin })
    expect(res.statusCode).toBe(404)
    expect(res.json().reason).toBe('key_not_found')
  })
})

describe('POST /v1/keys/{keyId}/rotate', () => {
  it('issues a new token and signing secret; the old generation gets the grace period', async () => {
    const first = (await issue({ signature: { algorithms: ['hmac-sha256'] } })).json()
    const before = Date.now()
    const res = await t.app.inject({ method: 'POST', url: `/v1/keys/${first.key.id}/rotate`, headers: admin, payload: { grace_seconds: 120 } })
    expect(res.statusCode).toBe(200)
    expect(res.headers['cache-control']).toBe('no-store')
    const rotated = res.json()
    expect(rotated.token).not.toBe(first.token)
    expect(rotated.signing_secret).toMatch(/^mss_/)
    expect(rotated.signing_secret).not.toBe(first.signing_secret)
    expect(rotated.key.id).toBe(first.key.id)
    const [old, fresh] = rotated.key.credentials
    expect(old.generation).toBe(1)
    expect(Date.parse(old.expires_at) - before).toBeGreaterThanOrEqual(119_000)
    expect(fresh).toMatchObject({ generation: 2, expires_at: null, signing_secret: true })
  })

  it('with no grace the old generation is dropped at once', async () => {
    const first = (await issue()).json()
    const rotated = (await t.app.inject({ method: 'POST', url: `/v1/keys/${first.key.id}/rotate`, headers: admin })).json()
    expect(rotated.key.credentials.map((c: { generation: number }) => c.generation)).toEqual([2])
    const stored = await t.store.getKey(first.key.id)
    expect(stored?.credentials.map((c) => c.generation)).toEqual([2])
  })

  it('refuses a revoked key', async () => {
    const id = (await issue()).json().key.id
    await t.app.inject({ method: 'POST', url: `/v1/keys/${id}/revoke`, headers: admin })
    const res = await t.app.inject({ method: 'POST', url: `/v1/keys/${id}/rotate`, headers: admin, payload: { grace_seconds: 5 } })
    expect(res.statusCode).toBe(409)
    expect(res.json().reason).toBe('key_revoked')
  })
})

describe('POST /v1/keys/{keyId}/revoke', () => {
  it('revokes idempotently and records who did it', async () => {
    const id = (await issue()).json().key.id
    const res = await t.app.inject({ method: 'POST', url: `/v1/keys/${id}/revoke`, headers: { ...admin, 'content-type': 'application/json' } })
    expect(res.statusCode).toBe(200)
    expect(res.json().key).toMatchObject({ status: 'revoked', revoked_by: 'alice' })
    const again = await t.app.inject({ method: 'POST', url: `/v1/keys/${id}/revoke`, headers: admin })
    expect(again.json().key.revoked_at).toBe(res.json().key.revoked_at)
  })
})
