import { statfs } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Env } from '../../src/config/load.js'
import { redisMemorySample } from '../../src/stores/redis/memory-sample.js'
import { admin } from '../helpers/app.js'
import { drainInbox, gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'

/**
 * The storage high-water mark (issue 10): a flood from one default key is refused with 503
 * storage_full once the store reaches MECHA_STORAGE_HIGH_WATER of its space, before the store itself
 * refuses writes (Redis under noeviction answers OOM to every write: nonce claims, the read script's
 * delivery bookkeeping, control-plane writes; a full disk fails every LMDB commit). The headroom left
 * is what keeps other mechas' reads and whoami, the recipient's drain and the operator's revoke working.
 */
const MAXMEMORY = 16 * 1024 * 1024
/** Just under a default key's max_message_bytes (65536), with the envelope around it. */
const CHUNK = 'x'.repeat(60_000)

interface Flooded {
  outcomes: Record<string, number>
}

/**
 * The flood and what must still work after it, on one store. `env` is read once the suite's
 * beforeAll ran (the Redis URL, the embedded mark).
 */
function floodSuite(env: () => Env, afterFlood: (flooded: Flooded) => Promise<void> = async () => undefined): void {
  let h: GatewayHarness
  let alpha: IssuedRuntime
  let beta: IssuedRuntime
  let gamma: IssuedRuntime

  beforeAll(async () => {
    h = await gatewayHarness(env())
    for (const id of ['alpha', 'beta', 'gamma', 'delta']) await h.register(id)
    // Default keys: the default rate limit (100/1) and max_message_bytes (65536) apply to the flood.
    alpha = await h.issue('alpha')
    beta = await h.issue('beta')
    gamma = await h.issue('gamma')
  })
  afterAll(async () => { await h?.close() })

  it('a flood from one default key gets 503 storage_full before the store runs out; other mechas read and whoami, the operator revokes, the recipient drains and room comes back', async () => {
    const seen = new Map<string, number>()
    let refusedAt: number | undefined
    // One inbox holds the whole flood (its budgets, 64 MiB and half of it per sender, are above the store's mark).
    for (let i = 0; i < 4000 && (refusedAt === undefined || i < refusedAt + 20); i++) {
      const res = await h.send(alpha, { to: 'beta', kind: 'flood', payload: CHUNK })
      const outcome = `${res.status} ${res.body?.reason ?? ''}`.trim()
      seen.set(outcome, (seen.get(outcome) ?? 0) + 1)
      if (res.status === 503 && res.body.reason === 'storage_full' && refusedAt === undefined) {
        refusedAt = i
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
      }
    }
    const outcomes = Object.fromEntries(seen)
    expect(outcomes).toMatchObject({ '503 storage_full': expect.any(Number) })
    expect(Object.keys(outcomes).filter((o) => !['202', '429 rate_limited', '503 storage_full'].includes(o)), JSON.stringify(outcomes)).toEqual([])
    await afterFlood({ outcomes })

    // Other mechas: reads (a nonce claim and the read) and whoami.
    const read = await h.call({ method: 'GET', url: '/v1/inbox?limit=10', credentials: gamma })
    expect([read.status, read.body.messages]).toEqual([200, []])
    const who = await h.call({ method: 'GET', url: '/v1/whoami', credentials: gamma })
    expect([who.status, who.body.mecha]).toEqual([200, 'gamma'])

    // The operator: revoke the flooding key, deactivate a mecha.
    const revoked = await h.t.app.inject({ method: 'POST', url: `/v1/keys/${alpha.keyId}/revoke`, headers: admin })
    expect(revoked.statusCode, revoked.body).toBe(200)
    const refused = await h.send(alpha, { to: 'beta', kind: 'flood', payload: 'after revoke' })
    expect([refused.status, refused.body.reason]).toEqual([401, 'invalid_key'])
    const deactivated = await h.t.app.inject({ method: 'DELETE', url: '/v1/mechas/delta', headers: admin })
    expect(deactivated.statusCode, deactivated.body).toBe(200)

    // The recipient drains its inbox (reads and acks); once it has, messages are accepted again.
    let drained = 0
    for (;;) {
      const inbox = await h.call({ method: 'GET', url: '/v1/inbox?limit=100', credentials: beta })
      expect(inbox.status, JSON.stringify(inbox.body)).toBe(200)
      const ids = inbox.body.messages.map((m: { id: string }) => m.id)
      if (ids.length === 0) break
      const ack = await h.call({ method: 'POST', url: '/v1/inbox/ack', body: JSON.stringify({ ids }), credentials: beta })
      expect([ack.status, ack.body.acknowledged]).toEqual([200, ids.length])
      drained += ids.length
    }
    expect(drained).toBe(outcomes['202'])
    // The mark samples at most once a second: poll, without asserting how soon.
    const deadline = Date.now() + 15_000
    let after = await h.send(gamma, { to: 'beta', kind: 'k', payload: 'after the drain' })
    while (after.status === 503 && after.body.reason === 'storage_full' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      after = await h.send(gamma, { to: 'beta', kind: 'k', payload: 'after the drain' })
    }
    expect(after.status, JSON.stringify(after.body)).toBe(202)
    await drainInbox(h, beta)
  })
}

describeWithRedis('storage high-water mark (redis-server with a small maxmemory)', () => {
  let redis: RedisHandle
  let probe: Redis

  beforeAll(async () => {
    redis = await startRedis({ args: ['--maxmemory', String(MAXMEMORY), '--maxmemory-policy', 'noeviction'] })
    probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
    await probe.connect()
  })
  afterAll(async () => {
    probe?.disconnect()
    await redis?.stop()
  })

  it('the sampler reads used_memory against maxmemory from INFO memory', async () => {
    const sample = await redisMemorySample(probe)()
    expect(sample.capacity).toBe(MAXMEMORY)
    expect(sample.used).toBeGreaterThan(0)
    expect(sample.used).toBeLessThan(MAXMEMORY)
  })

  describe('a flood', () => {
    floodSuite(() => ({ REDIS_URL: redis.url, MECHA_REDIS_PREFIX: 'flood:' }), async () => {
      const sample = await redisMemorySample(probe)()
      expect(sample.used, 'Redis kept headroom below maxmemory').toBeLessThan(sample.capacity)
    })
  })

  it('on the same Redis, a sender over its share gets sender_share_exceeded while another sender\'s message to the same inbox is accepted', async () => {
    const shared = await gatewayHarness({ REDIS_URL: redis.url, MECHA_REDIS_PREFIX: 'share:', MECHA_INBOX_LIMIT: '4', MECHA_INBOX_SENDER_SHARE: '0.5' })
    try {
      for (const id of ['alpha', 'beta', 'gamma']) await shared.register(id)
      const [sender, other, recipient] = [await shared.issue('alpha'), await shared.issue('gamma'), await shared.issue('beta')]
      for (let i = 0; i < 2; i++) expect((await shared.send(sender, { to: 'beta', kind: 'k', payload: CHUNK })).status).toBe(202)
      const over = await shared.send(sender, { to: 'beta', kind: 'k', payload: CHUNK })
      expect([over.status, over.body.reason]).toEqual([429, 'sender_share_exceeded'])
      expect((await shared.send(other, { to: 'beta', kind: 'k', payload: CHUNK })).status).toBe(202)
      await drainInbox(shared, recipient)
    } finally {
      await shared.close()
    }
  })
}, { ownServer: true })

describe('storage high-water mark (embedded store, the real sampler)', () => {
  // Filling the disk is not an option: the mark is set so that a few MiB of pages in use reach it.
  // The disk's free space is read now; other writers on it move the mark by a negligible amount.
  const MARK_BYTES = 6 * 1024 * 1024
  let ratio: string

  beforeAll(async () => {
    const disk = await statfs(tmpdir())
    const free = disk.bavail * disk.bsize
    expect(free, 'a disk with room for the test').toBeGreaterThan(10 * MARK_BYTES)
    ratio = (MARK_BYTES / free).toFixed(15)
  })

  floodSuite(() => ({ MECHA_STORAGE_HIGH_WATER: ratio }))
})
