import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KNOWN_TEST_KEYS } from '../../src/crypto/known-test-keys.js'
import { admin, testApp, type TestApp } from '../helpers/app.js'

/**
 * Published test keys (src/crypto/known-test-keys.ts) on real keys, through every control-plane route
 * that registers Ed25519 public keys: issuing (POST /v1/mechas/:id/keys) and updating (PATCH
 * /v1/keys/:keyId). Rotation takes no public keys (its body is `grace_seconds` only).
 */
const ed25519 = { signature: { required: true, algorithms: ['ed25519'] } }
const freshPublicKey = (): string => generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x as string

async function withMecha(t: TestApp, id: string): Promise<void> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/mechas', headers: admin, payload: { id } })
  expect(res.statusCode).toBe(201)
}

async function issueFresh(t: TestApp, mecha: string): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: `/v1/mechas/${mecha}/keys`, headers: admin, payload: { ...ed25519, public_keys: [freshPublicKey()] } })
  expect(res.statusCode).toBe(201)
  return res.json().key.id as string
}

describe('in production (NODE_ENV=production)', () => {
  let t: TestApp
  beforeAll(async () => {
    // MECHA_METRICS=off: production would otherwise open the metrics listener on the fixed port 9464.
    t = await testApp({ NODE_ENV: 'production', MECHA_TLS: 'proxy', MECHA_MASTER_KEY: randomBytes(32).toString('hex'), MECHA_METRICS: 'off', LOG_LEVEL: 'warn' })
    await withMecha(t, 'alpha')
  })
  afterAll(async () => { await t.close() })

  it.each(KNOWN_TEST_KEYS.map((k) => [k.source, k.publicKey]))('issuing a key with %s is 400 known_test_key, and nothing is stored', async (source, publicKey) => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/mechas/alpha/keys', headers: admin, payload: { ...ed25519, public_keys: [freshPublicKey(), publicKey] } })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'known_test_key' })
    expect(res.json().detail).toContain('public_keys[1]')
    expect(res.json().detail).toContain(source)
    const keys = await t.app.inject({ method: 'GET', url: '/v1/mechas/alpha/keys', headers: admin })
    expect(keys.json().keys.flatMap((k: { public_keys: string[] }) => k.public_keys)).not.toContain(publicKey)
  })

  it.each(KNOWN_TEST_KEYS.map((k) => [k.source, k.publicKey]))('updating a key\'s public_keys (and signature) to %s is 400 known_test_key, and the key is unchanged', async (_source, publicKey) => {
    const keyId = await issueFresh(t, 'alpha')
    const res = await t.app.inject({ method: 'PATCH', url: `/v1/keys/${keyId}`, headers: admin, payload: { signature: { required: false, algorithms: ['ed25519'] }, public_keys: [publicKey] } })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ reason: 'known_test_key' })
    const key = await t.app.inject({ method: 'GET', url: `/v1/keys/${keyId}`, headers: admin })
    expect(key.json().key.public_keys).not.toContain(publicKey)
    expect(key.json().key.signature.required).toBe(true)
  })

  it('still accepts a freshly generated key', async () => {
    const keyId = await issueFresh(t, 'alpha')
    const res = await t.app.inject({ method: 'PATCH', url: `/v1/keys/${keyId}`, headers: admin, payload: { public_keys: [freshPublicKey()] } })
    expect(res.statusCode).toBe(200)
  })

  it('rotation takes no public keys, so it cannot register one', async () => {
    const keyId = await issueFresh(t, 'alpha')
    const res = await t.app.inject({ method: 'POST', url: `/v1/keys/${keyId}/rotate`, headers: admin, payload: { public_keys: [KNOWN_TEST_KEYS[0]?.publicKey] } })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({ reason: 'invalid_request' })
  })
})

describe('in development', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await testApp({ LOG_LEVEL: 'warn' })
    await withMecha(t, 'alpha')
  })
  afterAll(async () => { await t.close() })

  const warningsFor = (publicKey: string): Record<string, unknown>[] => t.logs.map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.level === 40 && l.public_key === publicKey)

  it('issuing a key with a published test key is accepted, with a warning naming its source', async () => {
    const [first] = KNOWN_TEST_KEYS
    if (first === undefined) throw new Error('no known test keys')
    const res = await t.app.inject({ method: 'POST', url: '/v1/mechas/alpha/keys', headers: admin, payload: { ...ed25519, public_keys: [first.publicKey] } })
    expect(res.statusCode).toBe(201)
    const [warning] = warningsFor(first.publicKey)
    expect(warning).toMatchObject({ source: first.source, reqId: res.headers['x-request-id'], key: res.json().key.id })
    expect(String(warning?.msg)).toContain('published test key')
  })

  it('updating a key to a published test key is accepted, with a warning', async () => {
    const testKey = KNOWN_TEST_KEYS[KNOWN_TEST_KEYS.length - 1]
    if (testKey === undefined) throw new Error('no known test keys')
    const keyId = await issueFresh(t, 'alpha')
    const res = await t.app.inject({ method: 'PATCH', url: `/v1/keys/${keyId}`, headers: admin, payload: { public_keys: [testKey.publicKey] } })
    expect(res.statusCode).toBe(200)
    expect(warningsFor(testKey.publicKey)).toEqual([expect.objectContaining({ source: testKey.source, key: keyId })])
  })
})
