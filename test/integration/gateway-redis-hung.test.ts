import { afterAll, beforeAll, expect, it } from 'vitest'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'

describeWithRedis('gateway on a Redis that accepts connections and never answers', () => {
  let redis: RedisHandle
  let h: GatewayHarness
  let alpha: IssuedRuntime
  let beta: IssuedRuntime

  beforeAll(async () => {
    redis = await startRedis()
    h = await gatewayHarness({ REDIS_URL: redis.url, MECHA_REDIS_PREFIX: 'hung:' })
    await h.register('alpha')
    await h.register('beta')
    alpha = await h.issue('alpha')
    beta = await h.issue('beta')
    // warm the record cache (the key, its mecha, the recipient): while the change feed believes it is
    // connected they come from memory, so the hang hits the replay cache and the accept script
    expect((await h.call({ method: 'GET', url: '/v1/whoami', credentials: alpha })).status).toBe(200)
    const warm = await h.send(alpha, { to: 'beta', kind: 'k', payload: 'warm-up' })
    expect(warm.status).toBe(202)
    const drained = await h.call({ method: 'GET', url: '/v1/inbox?limit=10', credentials: beta })
    await h.call({ method: 'POST', url: '/v1/inbox/ack', body: JSON.stringify({ ids: drained.body.messages.map((m: { id: string }) => m.id) }), credentials: beta })
  })
  afterAll(async () => {
    await redis?.resume()
    await h?.close()
    await redis?.stop()
  }, 30_000)

  it('503 replay_cache_unavailable and transport_unavailable while hung; nothing delivered afterwards; recovery in-process', async () => {
    await redis.pause()
    const whoami = await h.call({ method: 'GET', url: '/v1/whoami', credentials: alpha })
    expect({ status: whoami.status, reason: whoami.body.reason }).toEqual({ status: 503, reason: 'replay_cache_unavailable' })
    const sent = await h.send(alpha, { to: 'beta', kind: 'k', payload: 'during the hang' })
    expect(sent.status).toBe(503)
    // The accept times out in the transport, unless the replay-safety check (which also reads Redis, at
    // start, on reconnect and every 10 s) already marked the cache unverified: both fail closed.
    expect(['transport_unavailable', 'replay_cache_unavailable']).toContain(sent.body.reason)
    await redis.resume()
    let recovered = 0
    for (let i = 0; i < 50 && recovered !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100))
      recovered = (await h.call({ method: 'GET', url: '/v1/whoami', credentials: alpha })).status
    }
    expect(recovered).toBe(200)
    // the command buffered during the hang ran late: it must not have delivered anything
    const inbox = await h.call({ method: 'GET', url: '/v1/inbox?limit=10', credentials: beta })
    expect(inbox.body.messages).toEqual([])
  }, 30_000)
})
