import { Redis } from 'ioredis'

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
  const connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs ?? 2000)
  const commandTimeoutMs = positive('commandTimeoutMs', options.commandTimeoutMs ?? 2000)
  const maxReconnectDelayMs = positive('maxReconnectDelayMs', options.maxReconnectDelayMs ?? 1000)

  const redis = new Redis(url, {
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
  })
  if (options.onError !== undefined) redis.on('error', options.onError)
  return redis
}

/** Resolves once the client is ready for commands; rejects after `timeoutMs` or if the client is closed. */
export async function waitForRedis(redis: Redis, timeoutMs: number): Promise<void> {
  positive('timeoutMs', timeoutMs)
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
