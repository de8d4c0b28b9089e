import { afterAll, expect, it } from 'vitest'
import { DependencyUnavailableError } from '../../src/errors/faults.js'
import { RedisRateLimiter } from '../../src/ratelimit/redis.js'
import type { RateLimiter } from '../../src/ratelimit/types.js'
import { describeWithRedis } from '../helpers/redis-server.js'
import type { RedisClient } from '../../src/stores/redis/client.js'
import { describeEachRedis, quit, sharedRedis, sharedRedisOf } from '../helpers/shared-redis.js'
import { rateLimiterContract } from './rate-limiter.contract.js'

describeEachRedis('RedisRateLimiter', (kind) => {
  rateLimiterContract(`redis (${kind})`, () => {
    const redis = sharedRedisOf(kind)
    const clients = new WeakMap<RateLimiter, RedisClient>()
    return {
      async open() {
        const client = await redis.connect()
        const limiter = new RedisRateLimiter(client, redis.newPrefix())
        clients.set(limiter, client)
        return limiter
      },
      async close(limiter) {
        await quit(clients.get(limiter))
      },
      teardown: redis.teardown,
    }
  })
})

describeWithRedis('RedisRateLimiter', () => {

  const redis = sharedRedis()
  afterAll(async () => { await redis.teardown() })

  it('keeps one hash per bucket under the prefix, expiring with its window', async () => {
    const client = await redis.connect()
    const prefix = redis.newPrefix()
    const limiter = new RedisRateLimiter(client, prefix)
    const now = Date.now()
    await limiter.hit('key:mkexpiry', 3, 2, now)
    await limiter.hit('key:mkexpiry', 3, 2, now + 500)
    expect(await client.keys(`${prefix}*`)).toEqual([`${prefix}ratelimit:key:mkexpiry`])
    expect(await client.hgetall(`${prefix}ratelimit:key:mkexpiry`)).toEqual({ start: String(now), count: '2' })
    const ttl = await client.pttl(`${prefix}ratelimit:key:mkexpiry`)
    // The window's rest (1.5 s) plus the clock-skew margin (5 s).
    expect(ttl).toBeGreaterThan(6000)
    expect(ttl).toBeLessThanOrEqual(6500)
    await client.quit()
  })

  it('one hit is one round trip: a single script call', async () => {
    const client = await redis.connect()
    const limiter = new RedisRateLimiter(client, redis.newPrefix())
    await limiter.hit('key:mkwarm', 3, 60, Date.now()) // loads the script
    const monitor = await client.monitor()
    const commands: string[] = []
    monitor.on('monitor', (_time: string, args: string[]) => { commands.push(String(args[0]).toLowerCase()) })
    await limiter.hit('key:mkcount', 3, 60, Date.now())
    await new Promise((resolve) => setTimeout(resolve, 100))
    monitor.disconnect()
    // The script's own HMGET/HSET/PEXPIRE run inside Redis; the client sent one command.
    expect(commands.filter((c) => c === 'evalsha' || c === 'eval')).toHaveLength(1)
    expect(commands.filter((c) => !['evalsha', 'eval', 'hmget', 'hset', 'pexpire'].includes(c))).toEqual([])
    await client.quit()
  })

  it('a Redis failure is DependencyUnavailableError(replay_cache): fail closed', async () => {
    const client = await redis.connect()
    const limiter = new RedisRateLimiter(client, redis.newPrefix())
    client.disconnect()
    const error = await limiter.hit('key:mkdown', 3, 60, Date.now()).catch((err: unknown) => err)
    expect(error).toBeInstanceOf(DependencyUnavailableError)
    expect((error as DependencyUnavailableError).dependency).toBe('replay_cache')
  })
})
