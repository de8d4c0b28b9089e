import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'
import type { RedisLayout } from './keys.js'
import { parseRedisUrl } from './url.js'

/** A connection to a standalone Redis or to a Redis Cluster: every store takes either. */
export type RedisClient = Redis | Cluster

/** Which layout (keys.ts) a client's keys follow: a Cluster's are hash-tagged. */
export function layoutOf(client: RedisClient): RedisLayout {
  return client instanceof Cluster ? 'cluster' : 'standalone'
}

export interface RedisClientOptions {
  /** Give up on one TCP connect attempt after this long (the client then retries). Default 2000 ms. */
  connectTimeoutMs?: number
  /** Reject a command that has no reply after this long. Default 2000 ms. */
  commandTimeoutMs?: number
  /** Longest pause between reconnect attempts. Default 1000 ms. */
  maxReconnectDelayMs?: number
  /**
   * Connection errors also surface as a rejection of every command issued while Redis is down; this
   * hook is for logging them. Without it ioredis prints them to stderr itself.
   */
  onError?: (err: Error) => void
}

/**
 * An ioredis client that fails closed and fast: while Redis is unreachable every command rejects at
 * once (the caller answers 503) instead of waiting in a queue, and the client keeps reconnecting in the
 * background so the same process recovers when Redis comes back. Call `waitForRedis` before first use:
 * with the offline queue off, commands sent before the first connection is ready are refused.
 */
export function createRedisClient(url: string, options: RedisClientOptions = {}): Redis {
  if (typeof url !== 'string' || !/^rediss?:\/\//.test(url)) {
    throw new TypeError(`expected a redis:// or rediss:// URL, got ${JSON.stringify(url)}`)
  }
  const redis = new Redis(url, nodeOptions(options))
  if (options.onError !== undefined) redis.on('error', options.onError)
  return redis
}

/**
 * A client for `url`: `createRedisClient` for a standalone server, else an ioredis `Cluster` on the
 * seed nodes with the same fail-fast settings per node, plus: the slot map refreshed every 5 s and
 * after every MOVED; MOVED, ASK and TRYAGAIN followed (the command did not run where it was refused);
 * CLUSTERDOWN and a connection closed under a command not retried (it may have run: no blind resend;
 * the caller answers 503). `sharded: true` makes it able to SSUBSCRIBE (sharded pub/sub, Redis 7).
 */
export function connectRedis(url: string, options: RedisClientOptions & { sharded?: boolean } = {}): RedisClient {
  const target = parseRedisUrl(url)
  if (target.layout === 'standalone') return createRedisClient(target.url, options)
  const maxReconnectDelayMs = positive('maxReconnectDelayMs', options.maxReconnectDelayMs ?? 1000)
  const redisOptions: RedisOptions = {
    ...nodeOptions(options),
    ...(target.username !== undefined ? { username: target.username } : {}),
    ...(target.password !== undefined ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
  }
  const clusterOptions: ClusterOptions = {
    redisOptions,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    enableReadyCheck: true,
    scaleReads: 'master',
    clusterRetryStrategy: (times: number) => Math.min(times * 100, maxReconnectDelayMs),
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    retryDelayOnTryAgain: 50,
    maxRedirections: 16,
    slotsRefreshTimeout: positive('connectTimeoutMs', options.connectTimeoutMs ?? 2000),
    slotsRefreshInterval: 5000,
    shardedSubscribers: options.sharded === true,
  }
  const cluster = new Cluster(target.seeds, clusterOptions)
  if (options.onError !== undefined) cluster.on('error', options.onError)
  return cluster
}

/** The per-connection options of `createRedisClient`, also each cluster node's. */
function nodeOptions(options: RedisClientOptions): RedisOptions {
  const connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs ?? 2000)
  const commandTimeoutMs = positive('commandTimeoutMs', options.commandTimeoutMs ?? 2000)
  const maxReconnectDelayMs = positive('maxReconnectDelayMs', options.maxReconnectDelayMs ?? 1000)

  return {
    // Connect now: start-up should find out whether Redis is there, not the first request.
    lazyConnect: false,
    // A dead host must not hold a connect attempt for the 10 s default.
    connectTimeout: connectTimeoutMs,
    // A hung server (or a silent network partition) turns into a prompt 503 rather than a stuck request.
    commandTimeout: commandTimeoutMs,
    // Never give up reconnecting, but cap the backoff so recovery is noticed within about a second.
    retryStrategy: (times: number) => Math.min(times * 100, maxReconnectDelayMs),
    // Commands are not retried across reconnects and not queued while disconnected: they fail at once.
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    // A write whose caller already got an error must not be replayed later behind its back.
    autoResendUnfulfilledCommands: false,
    // Commands issued in the same tick share one round trip (list + MGET bursts, concurrent saves).
    enableAutoPipelining: true,
  }
}

/** Resolves once the client is ready for commands; rejects after `timeoutMs` or if the client is closed. */
export async function waitForRedis(redis: RedisClient, timeoutMs: number): Promise<void> {
  positive('timeoutMs', timeoutMs)
  const deadline = Date.now() + timeoutMs
  await waitForReady(redis, timeoutMs)
  if (!(redis instanceof Cluster)) return
  // A cluster's node connections open on their first command, and with the offline queue off a
  // command sent while one is still connecting is refused: open every master's now.
  for (const node of redis.nodes('master')) if (node.status === 'wait') node.connect().catch(() => undefined)
  await Promise.all(redis.nodes('master').map((node) => waitForReady(node, Math.max(1, deadline - Date.now()))))
}

async function waitForReady(redis: RedisClient, timeoutMs: number): Promise<void> {
  if (redis.status === 'ready') return
  if (redis.status === 'end') throw new Error('Redis client is closed')
  await new Promise<void>((resolve, reject) => {
    const onReady = (): void => { settle(); resolve() }
    const onEnd = (): void => { settle(); reject(new Error('Redis client closed before it was ready')) }
    const timer = setTimeout(() => {
      settle()
      reject(new Error(`Redis not ready after ${timeoutMs} ms (client status: ${redis.status})`))
    }, timeoutMs)
    const settle = (): void => {
      clearTimeout(timer)
      redis.off('ready', onReady)
      redis.off('end', onEnd)
    }
    redis.once('ready', onReady)
    redis.once('end', onEnd)
  })
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`expected ${name} to be a positive number, got ${value}`)
  return value
}

/**
 * Readiness: a standalone server answers PING; a cluster is ready only when its state is `ok` (every
 * slot served) and every master in the slot map answers PING. Rejects otherwise.
 */
export async function pingRedis(client: RedisClient): Promise<void> {
  if (!(client instanceof Cluster)) {
    await client.ping()
    return
  }
  const info = String(await client.cluster('INFO'))
  const state = /^cluster_state:(\w+)/m.exec(info)?.[1]
  if (state !== 'ok') throw new Error(`Redis Cluster state is ${state ?? 'unknown'}`)
  const masters = client.nodes('master')
  if (masters.length === 0) throw new Error('no Redis Cluster master is connected')
  await Promise.all(masters.map((node) => node.ping()))
}
