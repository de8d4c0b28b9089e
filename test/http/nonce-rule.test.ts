import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { redisAvailable, startRedis, type RedisHandle } from '../helpers/redis-server.js'
import { freshNonce, type RuntimeRequestOptions } from '../helpers/runtime.js'

/**
 * One nonce rule, every route (issue 9): a request whose credential verified records its nonce exactly
 * once, whatever happens after (2xx, any 4xx, 429); a request refused before that records nothing.
 * Each case sends a request with a chosen nonce, then sends a valid request with the same nonce: a
 * recorded nonce makes the second one `replayed_nonce`; an unrecorded one lets it through.
 */

const STORES = ['embedded', ...(redisAvailable() || process.env.MECHA_REQUIRE_REDIS === '1' ? ['redis'] : [])]

describe.each(STORES)('the nonce rule (%s)', (store) => {
  let h: GatewayHarness
  let redis: RedisHandle | undefined
  let key: IssuedRuntime
  let hmacKey: IssuedRuntime
  let limited: IssuedRuntime
  let small: IssuedRuntime

  beforeAll(async () => {
    if (store === 'redis') redis = await startRedis()
    h = await gatewayHarness(redis !== undefined ? { REDIS_URL: redis.url } : {})
    for (const id of ['alpha', 'beta']) await h.register(id)
    await h.register('picky', { accepts: ['only.this'] })
    key = await h.issue('alpha')
    hmacKey = await h.issue('alpha', { signature: { required: false, algorithms: ['hmac-sha256'] } })
    limited = await h.issue('alpha', { rate_limit: { requests: 1, per_seconds: 3600 } })
    small = await h.issue('alpha', { permissions: { max_message_bytes: 64 } })
  })
  afterAll(async () => {
    await h?.close()
    await redis?.stop()
  })

  type Case = { name: string; credentials: () => IssuedRuntime; request: Partial<RuntimeRequestOptions> & { method: string; url: string }; status: number; reason?: string; prepare?: () => Promise<void> }

  const msg = (body: unknown): string => JSON.stringify(body)
  const AFTER: Case[] = [
    { name: 'send: schema 400 (unknown field)', credentials: () => key, request: { method: 'POST', url: '/v1/messages', body: msg({ to: 'beta', kind: 'k', payload: 1, extra: true }) }, status: 400, reason: 'invalid_request' },
    { name: 'send: payload too deep', credentials: () => key, request: { method: 'POST', url: '/v1/messages', body: `{"to":"beta","kind":"k","payload":${'['.repeat(80)}${']'.repeat(80)}}` }, status: 400, reason: 'payload_too_deep' },
    { name: 'send: malformed JSON', credentials: () => key, request: { method: 'POST', url: '/v1/messages', body: '{"to":' }, status: 400, reason: 'malformed_json' },
    { name: 'send: not JSON (415), signed', credentials: () => hmacKey, request: { method: 'POST', url: '/v1/messages', body: 'hello', contentType: 'text/plain', auth: 'hmac-sha256' }, status: 415, reason: 'unsupported_media_type' },
    { name: 'send: sender mismatch', credentials: () => key, request: { method: 'POST', url: '/v1/messages', body: msg({ to: 'beta', kind: 'k', payload: 1, from: 'beta' }) }, status: 401, reason: 'sender_mismatch' },
    { name: 'send: unknown recipient', credentials: () => key, request: { method: 'POST', url: '/v1/messages', body: msg({ to: 'nobody', kind: 'k', payload: 1 }) }, status: 404, reason: 'unknown_recipient' },
    { name: 'send: kind not accepted', credentials: () => key, request: { method: 'POST', url: '/v1/messages', body: msg({ to: 'picky', kind: 'k', payload: 1 }) }, status: 403, reason: 'kind_not_allowed' },
    { name: 'send: too large for the key', credentials: () => small, request: { method: 'POST', url: '/v1/messages', body: msg({ to: 'beta', kind: 'k', payload: 'x'.repeat(200) }) }, status: 413, reason: 'message_too_large' },
    { name: 'send: rate limited', credentials: () => limited, request: { method: 'POST', url: '/v1/messages', body: msg({ to: 'beta', kind: 'k', payload: 1 }) }, status: 429, reason: 'rate_limited',
      prepare: async () => { await h.send(limited, { to: 'beta', kind: 'k', payload: 0 }) } },
    { name: 'send: accepted', credentials: () => key, request: { method: 'POST', url: '/v1/messages', body: msg({ to: 'beta', kind: 'k', payload: 1 }) }, status: 202 },
    { name: 'ack: schema 400', credentials: () => key, request: { method: 'POST', url: '/v1/inbox/ack', body: msg({ ids: [] }) }, status: 400, reason: 'invalid_request' },
    { name: 'ack: payload too deep', credentials: () => key, request: { method: 'POST', url: '/v1/inbox/ack', body: `{"ids":${'['.repeat(80)}${']'.repeat(80)}}` }, status: 400, reason: 'payload_too_deep' },
    { name: 'ack: accepted', credentials: () => key, request: { method: 'POST', url: '/v1/inbox/ack', body: msg({ ids: ['msg_x'] }) }, status: 200 },
    { name: 'inbox: query 400', credentials: () => key, request: { method: 'GET', url: '/v1/inbox?wait=99' }, status: 400, reason: 'invalid_request' },
    { name: 'inbox: accepted', credentials: () => key, request: { method: 'GET', url: '/v1/inbox' }, status: 200 },
    { name: 'whoami: accepted', credentials: () => key, request: { method: 'GET', url: '/v1/whoami' }, status: 200 },
    { name: 'connect: plain GET (426)', credentials: () => key, request: { method: 'GET', url: '/v1/connect' }, status: 426, reason: 'upgrade_required' },
  ]

  const BEFORE: Case[] = [
    { name: 'wrong token secret', credentials: () => ({ ...key, token: `${key.token?.slice(0, 33)}${'a'.repeat(52)}${key.token?.slice(85)}` }), request: { method: 'GET', url: '/v1/whoami' }, status: 401 },
    { name: 'stale timestamp', credentials: () => key, request: { method: 'GET', url: '/v1/whoami', timestamp: Math.floor(Date.now() / 1000) - 3600 }, status: 401, reason: 'stale_timestamp' },
    { name: 'bad signature', credentials: () => ({ ...hmacKey, signingSecret: `mss_${'x'.repeat(43)}` }), request: { method: 'GET', url: '/v1/whoami', auth: 'token+hmac-sha256' }, status: 401, reason: 'bad_signature' },
    { name: 'wrong Content-Digest on a signed request', credentials: () => hmacKey, request: { method: 'POST', url: '/v1/messages', body: msg({ to: 'beta', kind: 'k', payload: 1 }), auth: 'hmac-sha256', tamper: (headers) => { headers['content-digest'] = `sha-256=:${Buffer.alloc(32).toString('base64')}:` } }, status: 401, reason: 'bad_digest' },
  ]

  /** A valid request with `nonce`: replayed_nonce when the nonce was recorded. */
  async function probe(credentials: IssuedRuntime, nonce: string): Promise<string | undefined> {
    const res = await h.call({ method: 'GET', url: '/v1/whoami', credentials, nonce })
    return res.status === 200 ? 'fresh' : res.body.reason
  }

  describe('a request whose credential verified records its nonce, whatever the answer', () => {
    it.each(AFTER.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      await c.prepare?.()
      const nonce = freshNonce()
      const res = await h.call({ ...c.request, credentials: c.credentials(), nonce })
      expect(res.status, JSON.stringify(res.body)).toBe(c.status)
      if (c.reason !== undefined) expect(res.body.reason).toBe(c.reason)
      expect(await probe(c.credentials(), nonce)).toBe('replayed_nonce')
    })
  })

  describe('a request refused before its credential verified records nothing', () => {
    it.each(BEFORE.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      const nonce = freshNonce()
      const res = await h.call({ ...c.request, credentials: c.credentials(), nonce })
      expect(res.status).toBe(c.status)
      if (c.reason !== undefined) expect(res.body.reason).toBe(c.reason)
      const owner = c.credentials().signingSecret?.startsWith('mss_xxx') === true ? hmacKey : c.name === 'wrong token secret' ? key : c.credentials()
      expect(await probe(owner, nonce)).toBe('fresh')
    })
  })
})
