import type { Config } from './config/schema.js'
import type { ReplayCache } from './replay/types.js'
import { EmbeddedReplayCache } from './replay/embedded.js'
import { RedisReplayCache } from './replay/redis.js'
import { MemoryRateLimiter } from './ratelimit/memory.js'
import { RedisRateLimiter } from './ratelimit/redis.js'
import type { RateLimiter } from './ratelimit/types.js'
import type { InboxBudgetOptions, Transport } from './transport/types.js'
import { EmbeddedTransport } from './transport/embedded.js'
import { RedisTransport } from './transport/redis.js'
import { EmbeddedSessionStore } from './sessions/embedded.js'
import { RedisSessionStore } from './sessions/redis.js'
import type { SessionStore } from './sessions/types.js'
import { openEmbeddedDatabase, type EmbeddedDatabase } from './stores/embedded/database.js'
import { EmbeddedControlStore } from './stores/embedded/control-store.js'
import { lockDataDirectory } from './stores/embedded/data-dir-lock.js'
import { embeddedSpaceSample } from './stores/embedded/space-sample.js'
import { HighWaterMark } from './stores/high-water.js'
import { RedisChangeFeed } from './stores/redis/change-feed.js'
import { connectRedis, waitForRedis, type RedisClient } from './stores/redis/client.js'
import { RedisControlStore } from './stores/redis/control-store.js'
import { redisMemorySample } from './stores/redis/memory-sample.js'
import type { ChangeFeed, ControlStore } from './stores/types.js'
import type { Probe } from './discovery/health.js'
import { embeddedDurability, readRedisPersistence, redisDurability, type Durability } from './stores/durability.js'

/** Readiness probes for every part of the stores. */
export function storeProbes(stores: Stores): Probe[] {
  return [
    { name: 'store', ping: () => stores.control.ping(), reason: 'store_unavailable' },
    { name: 'replay_cache', ping: () => stores.replayCache.ping(), reason: 'replay_cache_unavailable' },
    { name: 'transport', ping: () => stores.transport.ping(), reason: 'transport_unavailable' },
  ]
}

/** Everything the service keeps, chosen once at start: Redis when REDIS_URL is set, else LMDB. */
export interface Stores {
  readonly kind: 'embedded' | 'redis'
  readonly control: ControlStore
  readonly changes: ChangeFeed
  readonly replayCache: ReplayCache
  readonly transport: Transport
  /**
   * Sessions (specs/sessions.md): on the LMDB environment, or on the data-plane Redis beside the
   * inboxes (never the control Redis: session traffic is per message). Shares the stores' database or
   * connection and has nothing of its own to close; its failures are 503 store_unavailable.
   */
  readonly sessions: SessionStore
  /** Per-key rate limits and failed-authentication counts: in memory (embedded), or shared on Redis. */
  readonly rateLimiter: RateLimiter
  /** Set in embedded mode. */
  readonly embedded?: EmbeddedDatabase
  /** Set in Redis mode: the shared command connection. */
  readonly redis?: RedisClient
  /** What a 202 promises on these stores, found at start (at least MECHA_DURABILITY, or they do not open). */
  readonly durability: Durability
  close(): Promise<void>
}

const REDIS_STARTUP_TIMEOUT_MS = 10_000

export async function openStores(config: Config, log?: (err: Error) => void): Promise<Stores> {
  if (config.redisUrl !== undefined) return openRedisStores(config, config.redisUrl, log)
  // Before LMDB opens: a second process must not even read the environment (data-dir-lock.ts).
  const lock = await lockDataDirectory(config.dataDir)
  let embedded: EmbeddedDatabase
  try {
    embedded = openEmbeddedDatabase(config.dataDir, { synchronousCommit: config.durability === 'fsync' })
  } catch (err) {
    await lock.release()
    throw err
  }
  let durability: Durability
  try {
    durability = embeddedDurability(config.durability, embedded.synchronousCommit)
  } catch (err) {
    await embedded.close()
    await lock.release()
    throw err
  }
  const control = new EmbeddedControlStore(embedded)
  const replayCache = new EmbeddedReplayCache(embedded, { maxFutureSkewSeconds: config.maxFutureSkewSeconds })
  const transport = new EmbeddedTransport(embedded, {
    ...inboxBudgetOf(config), replay: replayCache.rules,
    pressure: new HighWaterMark(embeddedSpaceSample(embedded, config.dataDir), { ratio: config.storageHighWater }),
  })
  // Memory of nonces starts now: a request signed after the start is never older than the cache.
  try {
    await replayCache.startEpoch(Date.now())
  } catch (err) {
    await transport.close()
    await control.close()
    await lock.release()
    throw err
  }
  return {
    kind: 'embedded',
    control,
    changes: control.changes,
    replayCache,
    transport,
    sessions: new EmbeddedSessionStore(embedded),
    // Embedded mode is one process: the counts need not outlive it or be shared.
    rateLimiter: new MemoryRateLimiter(),
    embedded,
    durability,
    async close() {
      await replayCache.close()
      await transport.close()
      await control.close()
      await lock.release()
    },
  }
}

async function openRedisStores(config: Config, url: string, log?: (err: Error) => void): Promise<Stores> {
  const onError = log !== undefined ? { onError: log } : {}
  // Data plane: commands (auto-pipelined) and a subscriber (arrival wake-ups; sharded on a cluster).
  // Control plane: on its own Redis when MECHA_CONTROL_REDIS_URL is set, else on the same connections.
  const redis = connectRedis(url, onError)
  const subscriber = connectRedis(url, { ...onError, sharded: true })
  const own = config.controlRedisUrl !== undefined
    ? { redis: connectRedis(config.controlRedisUrl, onError), subscriber: connectRedis(config.controlRedisUrl, onError) }
    : undefined
  const controlRedis = own?.redis ?? redis
  const controlSubscriber = own?.subscriber ?? subscriber
  const clients = [redis, subscriber, ...(own !== undefined ? [own.redis, own.subscriber] : [])]
  let durability: Durability
  try {
    await Promise.all(clients.map((client) => waitForRedis(client, REDIS_STARTUP_TIMEOUT_MS)))
    // Before anything is written: a Redis that cannot keep the promise MECHA_DURABILITY makes is refused.
    durability = redisDurability(config.durability, await readRedisPersistence(redis))
  } catch (err) {
    for (const client of clients) client.disconnect()
    throw err
  }
  const control = new RedisControlStore(controlRedis, config.redisPrefix)
  const changes = new RedisChangeFeed(controlSubscriber, config.redisPrefix)
  const replayCache = new RedisReplayCache(redis, config.redisPrefix, {
    maxFutureSkewSeconds: config.maxFutureSkewSeconds,
    ...(log !== undefined ? { onChange: (event) => log(new Error(event.kind === 'unsafe' ? event.message : `replay cache epoch moved to ${event.epoch}: Redis run_id ${event.runId} may have lost writes`)) } : {}),
  })
  const transport = new RedisTransport(redis, subscriber, config.redisPrefix, {
    ...inboxBudgetOf(config), replay: replayCache.rules,
    pressure: new HighWaterMark(redisMemorySample(redis), { ratio: config.storageHighWater }),
  })
  try {
    await changes.ready(REDIS_STARTUP_TIMEOUT_MS)
    // Refuses to start on a Redis that may evict nonces (redis-safety.ts); moves the epoch after a loss.
    await replayCache.startEpoch(Date.now())
  } catch (err) {
    await replayCache.close()
    await transport.close()
    await changes.close()
    for (const client of clients) client.disconnect()
    throw err
  }
  return {
    kind: 'redis',
    control,
    changes,
    replayCache,
    transport,
    sessions: new RedisSessionStore(redis, config.redisPrefix),
    rateLimiter: new RedisRateLimiter(redis, config.redisPrefix),
    redis,
    durability,
    async close() {
      await replayCache.close()
      await transport.close()
      await changes.close()
      await control.close()
      // The control store quits its own connection; the rest are disconnected here.
      for (const client of clients) if (client !== controlRedis) client.disconnect()
    },
  }
}

/** The transport's part of the configuration. */
function inboxBudgetOf(config: Config): InboxBudgetOptions {
  return { inboxLimit: config.inboxLimit, inboxMaxBytes: config.inboxMaxBytes, senderShare: config.inboxSenderShare }
}
