import type { Redis } from 'ioredis'
import { RedisReplayCache, replayEpochKey, replayRunIdKey } from '../../src/replay/redis.js'
import type { ReplayCache } from '../../src/replay/types.js'
import { describeWithRedis } from '../helpers/redis-server.js'
import { sharedRedis } from '../helpers/shared-redis.js'
import { CONTRACT_SKEW_SECONDS, replayCacheContract } from './replay-cache.contract.js'

describeWithRedis('RedisReplayCache', () => {
  replayCacheContract('redis', () => {
    const redis = sharedRedis()
    const clients = new WeakMap<ReplayCache, { client: Redis; prefix: string }>()
    const opened = (cache: ReplayCache): { client: Redis; prefix: string } => {
      const o = clients.get(cache)
      if (o === undefined) throw new Error('unknown cache')
      return o
    }

    return {
      async open() {
        const prefix = redis.newPrefix()
        const client = await redis.connect()
        const cache = new RedisReplayCache(client, prefix, { maxFutureSkewSeconds: CONTRACT_SKEW_SECONDS })
        clients.set(cache, { client, prefix })
        return cache
      },
      async forgetEpoch(cache) {
        const { client, prefix } = opened(cache)
        await client.del(replayEpochKey(prefix), replayRunIdKey(prefix))
      },
      // What a restore, a failover or a restart leaves: a run_id record that is not the server's.
      async loseWrites(cache) {
        const { client, prefix } = opened(cache)
        await client.set(replayRunIdKey(prefix), 'f'.repeat(40))
      },
      // Redis expires keys by its own clock: really wait.
      async elapse(seconds) {
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
        return Date.now()
      },
      async close(cache) {
        await cache.close()
        await clients.get(cache)?.client.quit()
      },
      teardown: redis.teardown,
    }
  })
})
