import { RedisReplayCache } from '../../src/replay/redis.js'
import type { ReplayCache } from '../../src/replay/types.js'
import type { RedisClient } from '../../src/stores/redis/client.js'
import { deleteEach, describeEachRedis, epochRecordKeys, quit, sharedRedisOf } from '../helpers/shared-redis.js'
import { CONTRACT_SKEW_SECONDS, replayCacheContract } from './replay-cache.contract.js'

describeEachRedis('RedisReplayCache', (kind) => {
  replayCacheContract(`redis (${kind})`, () => {
    const redis = sharedRedisOf(kind)
    const clients = new WeakMap<ReplayCache, { client: RedisClient; prefix: string }>()
    const opened = (cache: ReplayCache): { client: RedisClient; prefix: string } => {
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
        await deleteEach(client, epochRecordKeys(client, prefix))
      },
      // What a restore, a failover or a restart leaves: a run_id record that is not the server's
      // (on a cluster, in every slot).
      async loseWrites(cache) {
        const { client, prefix } = opened(cache)
        const runIds = epochRecordKeys(client, prefix).filter((_, i) => i % 2 === 1)
        await Promise.all(runIds.map((key) => client.set(key, 'f'.repeat(40))))
      },
      // Redis expires keys by its own clock: really wait.
      async elapse(seconds) {
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
        return Date.now()
      },
      async close(cache) {
        await cache.close()
        await quit(clients.get(cache)?.client)
      },
      teardown: redis.teardown,
    }
  })
})
