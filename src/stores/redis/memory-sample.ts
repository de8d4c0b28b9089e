import { Cluster } from 'ioredis'
import type { RedisClient } from './client.js'
import type { StorageSample } from '../high-water.js'

/**
 * Redis's space from `INFO memory`: `used_memory` against `maxmemory`. Without maxmemory (0) Redis
 * has no limit of its own to run into (the host's memory is the operator's), so the sample has no
 * capacity and the mark never refuses. `used_memory` includes what Redis does not count against
 * maxmemory (replication and AOF buffers): the mark errs on the early side.
 */
export function parseInfoMemory(info: string): StorageSample {
  const field = (name: string): number => {
    const value = new RegExp(`^${name}:(\\d+)\\r?$`, 'm').exec(info)?.[1]
    if (value === undefined) throw new Error(`INFO memory has no ${name}`)
    return Number(value)
  }
  return { used: field('used_memory'), capacity: field('maxmemory') }
}

/**
 * Samples `redis` (one INFO memory round trip). On a cluster, every master, and the fullest one
 * counts (the highest used/maxmemory): new messages are refused everywhere while one shard is near
 * its limit, which keeps every recipient's reads and acks working on it.
 */
export function redisMemorySample(redis: RedisClient): () => Promise<StorageSample> {
  if (!(redis instanceof Cluster)) return async () => parseInfoMemory(await redis.info('memory'))
  return async () => {
    const masters = redis.nodes('master')
    if (masters.length === 0) throw new Error('no Redis Cluster master is connected')
    const samples = await Promise.all(masters.map(async (node) => parseInfoMemory(await node.info('memory'))))
    const ratio = (s: StorageSample): number => (s.capacity > 0 ? s.used / s.capacity : 0)
    return samples.reduce((fullest, next) => (ratio(next) > ratio(fullest) ? next : fullest))
  }
}
