import type { Redis } from 'ioredis'
import { RedisReplayCache, replayEpochKey, replayRunIdKey, type RedisReplayCacheOptions } from '../../src/replay/redis.js'

/**
 * A RedisReplayCache that has run its start-up checks (claims fail closed until then), with its epoch
 * records then removed when `emptyEpoch` is set: the store as a Redis that lost everything while the
 * service ran, where the first claim sets the epoch.
 */
export async function startedRedisReplayCache(redis: Redis, prefix: string, options: RedisReplayCacheOptions & { emptyEpoch?: boolean } = {}): Promise<RedisReplayCache> {
  const { emptyEpoch, ...cacheOptions } = options
  const cache = new RedisReplayCache(redis, prefix, cacheOptions)
  await cache.startEpoch(Date.now())
  if (emptyEpoch === true) await redis.del(replayEpochKey(prefix), replayRunIdKey(prefix))
  return cache
}
