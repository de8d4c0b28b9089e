import { afterAll, beforeAll, expect, it } from 'vitest'
import { DependencyUnavailableError } from '../../src/errors/faults.js'
import { createRedisClient, waitForRedis } from '../../src/stores/redis/client.js'
import { RedisTransport } from '../../src/transport/redis.js'
import type { Redis } from 'ioredis'
import { startedRedisReplayCache } from '../helpers/replay.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'

describeWithRedis('Redis accept deadline (regression: a 503 during a hang became a delivery when Redis resumed)', () => {
  let server: RedisHandle
  let redis: Redis
  let transport: RedisTransport
  beforeAll(async () => {
    server = await startRedis()
    redis = createRedisClient(server.url)
    await waitForRedis(redis, 5000)
    const replayCache = await startedRedisReplayCache(redis, 'deadline:', { maxFutureSkewSeconds: 0 })
    transport = new RedisTransport(redis, undefined, 'deadline:', { replay: replayCache.rules })
  })
  afterAll(async () => {
    redis?.disconnect()
    await server?.stop()
  })

  const input = (now: number, id: string) => ({
    claim: { keyId: 'mkaaaaaaaaaaaaaaaaaaaaaaaa', nonce: `nonce-${id}-${'x'.repeat(20)}`, target: 'b', timestamp: Math.floor(now / 1000), ttlSeconds: 660, now },
    message: { id, from: 'a', to: 'b', kind: 'k', payload: null, reply_to: null, idempotency_key: null, accepted_at: new Date(now).toISOString() },
    idempotency: null,
    idempotencyTtlSeconds: 60,
  })

  it('an accept that reaches Redis after its deadline writes nothing', async () => {
    await expect(transport.accept(input(Date.now() - 5000, 'late'))).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect((await transport.read('b', { limit: 10, visibilityMs: 1000, now: Date.now() })).messages).toEqual([])
    expect(await redis.exists('deadline:nonce:mkaaaaaaaaaaaaaaaaaaaaaaaa:nonce-late-xxxxxxxxxxxxxxxxxxxx')).toBe(0)
  })

  it('an accept within its deadline is stored', async () => {
    expect((await transport.accept(input(Date.now(), 'on-time'))).outcome).toBe('accepted')
    expect((await transport.read('b', { limit: 10, visibilityMs: 1000, now: Date.now() })).messages.map((m) => m.id)).toEqual(['on-time'])
  })
})
