import { RedisReplayCache, type RedisReplayCacheOptions } from '../../src/replay/redis.js'
import type { RedisClient } from '../../src/stores/redis/client.js'
import { deleteEach, epochRecordKeys } from './shared-redis.js'

/**
 * A RedisReplayCache that has run its start-up checks (claims fail closed until then), with its epoch
 * records then removed when `emptyEpoch` is set: the store as a Redis that lost everything while the
 * service ran, where the first claim sets the epoch.
 */
export async function startedRedisReplayCache(redis: RedisClient, prefix: string, options: RedisReplayCacheOptions & { emptyEpoch?: boolean } = {}): Promise<RedisReplayCache> {
  const { emptyEpoch, ...cacheOptions } = options
  const cache = new RedisReplayCache(redis, prefix, cacheOptions)
  await cache.startEpoch(Date.now())
  if (emptyEpoch === true) await deleteEach(redis, epochRecordKeys(redis, prefix))
  return cache
}
