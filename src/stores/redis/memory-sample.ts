import type { Redis } from 'ioredis'
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

/** Samples `redis` (one INFO memory round trip). */
export function redisMemorySample(redis: Redis): () => Promise<StorageSample> {
  return async () => parseInfoMemory(await redis.info('memory'))
}
