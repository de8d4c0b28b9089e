import { randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import { createRedisClient, waitForRedis } from '../../src/stores/redis/client.js'
import { startRedis, type RedisHandle } from './redis-server.js'

/**
 * One Redis for a test file, started on the first `connect()`; a fresh key prefix per test keeps the
 * tests apart.
 */
export interface SharedRedis {
  /** A new connection, ready for commands. */
  connect(): Promise<Redis>
  /** A fresh `mecharim-test:<uuid>:` prefix, remembered for teardown. */
  newPrefix(): string
  /** Stops the server, or on an external REDIS_URL deletes the keys under every prefix handed out. */
  teardown(): Promise<void>
}

export function sharedRedis(): SharedRedis {
  let server: Promise<RedisHandle> | undefined
  const prefixes: string[] = []

  const connect = async (): Promise<Redis> => {
    server ??= startRedis()
    const client = createRedisClient((await server).url, { onError: () => {} })
    await waitForRedis(client, 5000)
    return client
  }
  const newPrefix = (): string => {
    const prefix = `mecharim-test:${randomUUID()}:`
    prefixes.push(prefix)
    return prefix
  }
  const teardown = async (): Promise<void> => {
    if (server === undefined) return
    const handle = await server
    if (!handle.external) {
      await handle.stop()
      return
    }
    // A shared Redis outlives the file: remove what the tests wrote.
    const client = await connect()
    for (const prefix of prefixes) {
      const keys = await client.keys(`${prefix}*`)
      if (keys.length > 0) await client.del(...keys)
    }
    await client.quit()
  }
  return { connect, newPrefix, teardown }
}
