import { randomUUID } from 'node:crypto'
import { Cluster, type Redis } from 'ioredis'
import { connectRedis, createRedisClient, waitForRedis, type RedisClient } from '../../src/stores/redis/client.js'
import { SLOTS, RedisKeys } from '../../src/stores/redis/keys.js'
import { startRedisCluster, describeWithRedisCluster, type RedisCluster } from './redis-cluster.js'
import { describeWithRedis, startRedis, type RedisHandle } from './redis-server.js'

/**
 * One Redis for a test file, started on the first `connect()`; a fresh key prefix per test keeps the
 * tests apart.
 */
export interface SharedRedis<C extends RedisClient = Redis> {
  /** A new connection, ready for commands (`sharded`: able to SSUBSCRIBE, on a cluster). */
  connect(options?: { sharded?: boolean }): Promise<C>
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

/** One local Redis Cluster (3 masters) for a test file, started on the first `connect()`. */
export function sharedRedisCluster(): SharedRedis<Cluster> & { cluster(): Promise<RedisCluster> } {
  let started: Promise<RedisCluster> | undefined
  const cluster = (): Promise<RedisCluster> => (started ??= startRedisCluster())
  const connect = async (options: { sharded?: boolean } = {}): Promise<Cluster> => {
    const client = connectRedis((await cluster()).url, { onError: () => {}, ...options }) as Cluster
    await waitForRedis(client, 10_000)
    return client
  }
  return {
    cluster,
    connect,
    newPrefix: () => `mecharim-test:${randomUUID()}:`,
    async teardown() {
      if (started !== undefined) await (await started).stop()
    },
  }
}

export type RedisKind = 'standalone' | 'cluster'
export const REDIS_KINDS: readonly RedisKind[] = ['standalone', 'cluster']

/** The fixture of a kind: a standalone redis-server, or a local 3-master cluster. */
export function sharedRedisOf(kind: RedisKind): SharedRedis<RedisClient> {
  return kind === 'cluster' ? sharedRedisCluster() : sharedRedis()
}

/** `describe` once per kind of Redis, each skipped (or, where CI requires it, failed) without its binaries. */
export function describeEachRedis(name: string, fn: (kind: RedisKind) => void): void {
  describeWithRedis(`${name} (standalone Redis)`, () => fn('standalone'))
  describeWithRedisCluster(`${name} (Redis Cluster)`, () => fn('cluster'))
}

/** Every replay-epoch record under the prefix: a standalone Redis's two, or two per cluster slot. */
export function epochRecordKeys(client: RedisClient, prefix: string): string[] {
  if (!(client instanceof Cluster)) {
    const keys = new RedisKeys(prefix, 'standalone')
    return [keys.epochFor(''), keys.runIdFor('')]
  }
  const keys = new RedisKeys(prefix, 'cluster')
  return Array.from({ length: SLOTS }, (_, slot) => [keys.slotEpoch(slot), keys.slotRunId(slot)]).flat()
}

/** Delete keys one command each (a cluster refuses a multi-key DEL across slots); auto-pipelined. */
export async function deleteEach(client: RedisClient, keys: string[]): Promise<void> {
  await Promise.all(keys.map((key) => client.del(key)))
}

/** QUIT needs a live connection: one to a stopped Redis is just dropped. */
export async function quit(client: RedisClient | undefined): Promise<void> {
  if (client === undefined || client.status === 'end') return
  await client.quit().catch(() => client.disconnect())
}
