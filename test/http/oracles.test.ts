import { generateKeyPairSync } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { newKeyId } from '../../src/crypto/ids.js'
import { newToken } from '../../src/crypto/token.js'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { redisAvailable, startRedis, type RedisHandle } from '../helpers/redis-server.js'

/**
 * Nothing about a key is learnt before its secret is proven (issue 9, "Oracles before the secret"
 * and "Recipient oracle"). Each test asks the same question of a live key and of something else
 * (an unknown key, a key with another policy) and requires the two answers to be identical.
 */

const STORES = ['embedded', ...(redisAvailable() || process.env.MECHA_REQUIRE_REDIS === '1' ? ['redis'] : [])]

describe.each(STORES)('no oracle before the secret (%s)', (store) => {
  let h: GatewayHarness
  let redis: RedisHandle | undefined
  let live: IssuedRuntime
  let signing: IssuedRuntime
  let helpdeskOnly: IssuedRuntime

  beforeAll(async () => {
    if (store === 'redis') redis = await startRedis()
    h = await gatewayHarness(redis !== undefined ? { REDIS_URL: redis.url } : {})
    for (const id of ['alpha', 'beta', 'helpdesk']) await h.register(id)
    await h.register('unlisted', { accepts: ['secret.kind'] })
    live = await h.issue('alpha')
    signing = await h.issue('alpha', { signature: { required: true, algorithms: ['hmac-sha256'] } })
    helpdeskOnly = await h.issue('alpha', { permissions: { recipients: ['helpdesk'] } })
  })
  afterAll(async () => {
    await h?.close()
    await redis?.stop()
  })

  /** A made-up secret with a valid checksum for `keyId`: what anyone can build from a public key id. */
  function guessed(keyId: string): IssuedRuntime {
    return { mecha: 'alpha', keyId, token: newToken(keyId).token }
  }

  /** The parts of a refusal a caller could compare (the request id differs by design). */
  function answer(res: { status: number; body: { reason?: string; detail?: string } }): { status: number; reason?: string; detail?: string } {
    return { status: res.status, reason: res.body.reason, detail: res.body.detail }
  }

  describe('before the secret is proven', () => {
    it('a stale timestamp is answered the same for a live key and an unknown one (the timestamp is checked before the key)', async () => {
      const old = Math.floor(Date.now() / 1000) - 3600
      const forLive = await h.call({ method: 'GET', url: '/v1/whoami', credentials: guessed(live.keyId), timestamp: old })
      const forUnknown = await h.call({ method: 'GET', url: '/v1/whoami', credentials: guessed(newKeyId()), timestamp: old })
      expect(forLive.body.reason).toBe('stale_timestamp')
      expect({ ...answer(forUnknown), detail: undefined }).toEqual({ ...answer(forLive), detail: undefined })
    })

    it('a made-up secret for a key that requires signatures is invalid_key, like one for a bearer key: no signature_required, no algorithms', async () => {
      const forSigning = await h.call({ method: 'GET', url: '/v1/whoami', credentials: guessed(signing.keyId) })
      const forBearer = await h.call({ method: 'GET', url: '/v1/whoami', credentials: guessed(live.keyId) })
      const forUnknown = await h.call({ method: 'GET', url: '/v1/whoami', credentials: guessed(newKeyId()) })
      expect(answer(forSigning)).toEqual({ status: 401, reason: 'invalid_key', detail: expect.any(String) })
      expect(answer(forSigning)).toEqual(answer(forBearer))
      expect(answer(forSigning)).toEqual(answer(forUnknown))
      expect(JSON.stringify(forSigning.body)).not.toMatch(/hmac|ed25519|signature/i)
    })

    it('signature_required (with its detail) is answered once a valid token proved the secret', async () => {
      const res = await h.call({ method: 'GET', url: '/v1/whoami', credentials: signing })
      expect(res.body.reason).toBe('signature_required')
      expect(res.body.detail).toContain('hmac-sha256')
    })

    it('an alg the key has not registered is refused exactly like a signature that does not verify, and like an unknown key', async () => {
      const { privateKey } = generateKeyPairSync('ed25519')
      const unregisteredAlg = await h.call({ method: 'GET', url: '/v1/whoami', credentials: { keyId: signing.keyId, privateKey }, auth: 'ed25519' })
      const wrongSecret = await h.call({ method: 'GET', url: '/v1/whoami', credentials: { keyId: signing.keyId, signingSecret: `mss_${'x'.repeat(43)}` }, auth: 'hmac-sha256' })
      const unknownKey = await h.call({ method: 'GET', url: '/v1/whoami', credentials: { keyId: newKeyId(), privateKey }, auth: 'ed25519' })
      expect(answer(unregisteredAlg)).toEqual({ status: 401, reason: 'bad_signature', detail: expect.any(String) })
      expect(answer(unregisteredAlg)).toEqual(answer(wrongSecret))
      expect(answer(unregisteredAlg)).toEqual(answer(unknownKey))
      expect(unregisteredAlg.body.detail).not.toMatch(/registered|ed25519|alg/i)
    })

    it('a revoked key with a signature alone is bad_signature, like an unknown one', async () => {
      const key = await h.issue('alpha', { signature: { required: true, algorithms: ['hmac-sha256'] } })
      const revoke = await h.t.app.inject({ method: 'POST', url: `/v1/keys/${key.keyId}/revoke`, headers: { authorization: `Bearer ${(await import('../helpers/app.js')).OPERATORS.admin}` } })
      expect(revoke.statusCode).toBe(200)
      const revoked = await h.call({ method: 'GET', url: '/v1/whoami', credentials: key, auth: 'hmac-sha256' })
      const unknown = await h.call({ method: 'GET', url: '/v1/whoami', credentials: { ...key, keyId: newKeyId() }, auth: 'hmac-sha256' })
      expect(answer(revoked)).toEqual({ status: 401, reason: 'bad_signature', detail: expect.any(String) })
      expect(answer(revoked)).toEqual(answer(unknown))
    })
  })

  describe('the key\'s own permissions come before the recipient lookup', () => {
    it('a recipient the key may not address is recipient_not_allowed whether it exists or not, and says nothing of its kinds', async () => {
      const existing = await h.send(helpdeskOnly, { to: 'unlisted', kind: 'task.request', payload: 1 })
      const missing = await h.send(helpdeskOnly, { to: 'no-such-mecha', kind: 'task.request', payload: 1 })
      expect(existing.body.reason).toBe('recipient_not_allowed')
      expect(missing.body.reason).toBe('recipient_not_allowed')
      expect(existing.body.detail.replace('unlisted', 'X')).toBe(missing.body.detail.replace('no-such-mecha', 'X'))
    })

    it('the allowed recipient still gets its message', async () => {
      const res = await h.send(helpdeskOnly, { to: 'helpdesk', kind: 'task.request', payload: 1 })
      expect(res.status).toBe(202)
    })
  })
})
