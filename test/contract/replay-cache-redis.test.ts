import type { Redis } from 'ioredis'
import { RedisReplayCache } from '../../src/replay/redis.js'
import type { ReplayCache } from '../../src/replay/types.js'
import { describeWithRedis } from '../helpers/redis-server.js'
import { sharedRedis } from '../helpers/shared-redis.js'
import { replayCacheContract } from './replay-cache.contract.js'

describeWithRedis('RedisReplayCache', () => {
  replayCacheContract('redis', () => {
    const redis = sharedRedis()
    const clients = new WeakMap<ReplayCache, Redis>()

    return {
      async open() {
        const prefix = redis.newPrefix()
        const client = await redis.connect()
        const cache = new RedisReplayCache(client, prefix)
        clients.set(cache, client)
        return cache
      },
      // Redis expires keys by its own clock: really wait.
      async elapse(seconds) {
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
        return Date.now()
      },
      async close(cache) {
        await clients.get(cache)?.quit()
      },
      teardown: redis.teardown,
    }
  })
})
