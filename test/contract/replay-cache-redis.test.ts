import { RedisReplayCache } from '../../src/replay/redis.js'
import type { ReplayCache } from '../../src/replay/types.js'
import type { RedisClient } from '../../src/stores/redis/client.js'
import type { Cluster } from 'ioredis'
import { afterAll, expect, it } from 'vitest'
import { describeWithRedisCluster } from '../helpers/redis-cluster.js'
import { deleteEach, describeEachRedis, epochRecordKeys, quit, sharedRedisCluster, sharedRedisOf } from '../helpers/shared-redis.js'
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

describeWithRedisCluster('RedisReplayCache on a cluster: the periodic check', () => {
  const fixture = sharedRedisCluster()
  afterAll(async () => { await fixture.teardown() })

  /** EVAL calls (the safety scripts run as EVAL) summed over the masters. */
  const evalCalls = async (client: Cluster): Promise<number> => {
    let calls = 0
    for (const node of client.nodes('master')) calls += Number(/cmdstat_eval:calls=(\d+)/.exec(await node.info('commandstats'))?.[1] ?? 0)
    return calls
  }

  it('reads the per-slot epochs again only when a master\'s run_id or the slot map changed', async () => {
    const client = await fixture.connect()
    const cache = new RedisReplayCache(client, fixture.newPrefix(), { maxFutureSkewSeconds: CONTRACT_SKEW_SECONDS, checkIntervalMs: 100 })
    try {
      await cache.startEpoch(Date.now())
      const before = await evalCalls(client)
      await new Promise((resolve) => setTimeout(resolve, 1500))
      // About 15 periodic checks ran: none of them ran the epoch scripts again.
      expect(await evalCalls(client)).toBe(before)
      await expect(cache.ping()).resolves.toBeUndefined()
      // An explicit check (start-up, reconnect, topology change) is a full one: one script per master.
      await cache.startEpoch(Date.now())
      expect(await evalCalls(client)).toBe(before + client.nodes('master').length)
    } finally {
      await cache.close()
      await quit(client)
    }
  })
})
