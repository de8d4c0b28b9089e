import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Cluster, type Redis } from 'ioredis'
import { DependencyUnavailableError } from '../../src/errors/faults.js'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { openStores } from '../../src/open-stores.js'
import { keySlot, RedisKeys } from '../../src/stores/redis/keys.js'
import { RedisSessionStore } from '../../src/sessions/redis.js'
import type { SessionStore } from '../../src/sessions/types.js'
import { createRedisClient, waitForRedis, type RedisClient } from '../../src/stores/redis/client.js'
import { describeEachRedis, quit, sharedRedisCluster, sharedRedisOf } from '../helpers/shared-redis.js'
import { describeWithRedis, startRedis, type RedisHandle } from '../helpers/redis-server.js'
import { mecha, session, sessionStoreContract } from './session-store.contract.js'

describeEachRedis('RedisSessionStore', (kind) => {
  sessionStoreContract(`redis (${kind})`, () => {
    const fixture = sharedRedisOf(kind)
    const opened = new WeakMap<SessionStore, { client: RedisClient; prefix: string }>()
    const openOn = async (prefix: string): Promise<SessionStore> => {
      const client = await fixture.connect()
      const store = new RedisSessionStore(client, prefix)
      opened.set(store, { client, prefix })
      return store
    }
    return {
      open: () => openOn(fixture.newPrefix()),
      // Another gateway process: its own connection, the same prefix.
      async sibling(store) {
        const o = opened.get(store)
        if (o === undefined) throw new Error('unknown store')
        return openOn(o.prefix)
      },
      async close(store) {
        await quit(opened.get(store)?.client)
      },
      teardown: fixture.teardown,
    }
  })
})

describeEachRedis('openStores: sessions on Redis', (kind) => {
  let stopServer: (() => Promise<void>) | undefined
  let url: string
  beforeAll(async () => {
    if (kind === 'cluster') {
      const fixture = sharedRedisCluster()
      url = (await fixture.cluster()).url
      stopServer = fixture.teardown
    } else {
      const server = await startRedis()
      url = server.url
      stopServer = () => server.stop()
    }
  })
  afterAll(async () => { await stopServer?.() })

  it('builds a RedisSessionStore on the data-plane connection; on a cluster each key sits in its documented slot', async () => {
    const prefix = `mecharim-test:${randomUUID()}:`
    const dir = mkdtempSync(join(tmpdir(), 'mecharim-sessions-open-'))
    const stores = await openStores(loadConfig({ MECHA_DATA_DIR: dir, MECHA_DURABILITY: 'memory', REDIS_URL: url, MECHA_REDIS_PREFIX: prefix }))
    try {
      expect(stores.sessions).toBeInstanceOf(RedisSessionStore)
      const now = Date.now()
      const record = session({ now, others: [mecha('bob'), mecha('carol')] })
      expect(await stores.sessions.start(record, { maxOpen: 1, now })).toEqual({ outcome: 'started' })
      expect(await stores.sessions.get(record.id)).toEqual(record)
      const redis = stores.redis as RedisClient
      const keys = new RedisKeys(prefix, redis instanceof Cluster ? 'cluster' : 'standalone')
      const written: [string, string][] = [
        [keys.session(record.id), record.id],
        [keys.sessionsOpen(record.initiator, record.initiator_key), record.initiator],
        ...record.participants.map((p): [string, string] => [keys.sessionsOf(p), p]),
        [keys.sessionsDue(), 'sessions-due'],
        [keys.sessionsRetired(), 'sessions-due'],
      ]
      for (const [key, tag] of written) {
        expect(await redis.exists(key), key).toBe(1)
        if (kind === 'cluster') expect(keySlot(key), key).toBe(keySlot(tag))
      }
    } finally {
      await stores.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describeEachRedis('RedisSessionStore after losing keys', (kind) => {
  const fixture = sharedRedisOf(kind)
  afterAll(async () => { await fixture.teardown() })

  it('a record gone by its TTL is dropped from the listing and the due set when met', async () => {
    const client = await fixture.connect()
    const prefix = fixture.newPrefix()
    const store = new RedisSessionStore(client, prefix)
    const keys = new RedisKeys(prefix, client instanceof Cluster ? 'cluster' : 'standalone')
    try {
      const now = Date.now()
      const initiator = mecha('alice')
      const gone = session({ initiator, now, ttlMs: 1000 })
      const kept = session({ initiator, now: now + 1, ttlMs: 1000 })
      await store.start(gone, { maxOpen: null, now })
      await store.start(kept, { maxOpen: null, now: now + 1 })
      await client.del(keys.session(gone.id))
      expect((await store.listFor(initiator, { limit: 1 })).map((r) => r.id)).toEqual([kept.id])
      expect((await store.listFor(initiator, { limit: 10 })).map((r) => r.id)).toEqual([kept.id])
      expect(await client.zscore(keys.sessionsOf(initiator), gone.id)).toBeNull()
      expect((await store.due(now + 5000, 1)).map((r) => r.id)).toEqual([kept.id])
      expect(await client.zscore(keys.sessionsDue(), gone.id)).toBeNull()
    } finally {
      await quit(client)
    }
  })
})

/**
 * Session writes carry a deadline, like the transport's accept: a start or close answered 503 while
 * Redis hung must not apply when Redis resumes (a start the caller was told failed would count against
 * max_open, a close reported failed would still happen).
 */
describeWithRedis('RedisSessionStore write deadline', () => {
  let server: RedisHandle
  let client: Redis
  beforeAll(async () => {
    server = await startRedis()
    client = createRedisClient(server.url, { onError: () => {} })
    await waitForRedis(client, 5000)
  })
  afterAll(async () => {
    client?.disconnect()
    await server?.stop()
  })

  it('a start or close that reaches Redis after its deadline writes nothing', async () => {
    const prefix = `deadline:${randomUUID()}:`
    const late = new RedisSessionStore(client, prefix, { now: () => Date.now() - 5000 })
    const onTime = new RedisSessionStore(client, prefix)
    const now = Date.now()
    const record = session({ now })
    await expect(late.start(record, { maxOpen: 1, now })).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(await client.keys(`${prefix}*`)).toEqual([])
    expect(await onTime.start(record, { maxOpen: 1, now }), 'the late start was not counted').toEqual({ outcome: 'started' })
    await expect(late.close(record.id, { state: 'cancelled', outcome: null, reason: null, now: now + 1 })).rejects.toBeInstanceOf(DependencyUnavailableError)
    expect(await onTime.get(record.id)).toEqual(record)
  })

  it('Redis hung (SIGSTOP): the start is refused, and it has not applied once Redis resumes', async () => {
    const prefix = `hung:${randomUUID()}:`
    const store = new RedisSessionStore(client, prefix)
    const now = Date.now()
    const record = session({ now })
    await server.pause()
    try {
      await expect(store.start(record, { maxOpen: 1, now })).rejects.toBeInstanceOf(DependencyUnavailableError)
    } finally {
      await server.resume()
    }
    // The script still sat in Redis's socket buffer; it runs now, past its deadline.
    await client.ping()
    expect(await client.keys(`${prefix}*`)).toEqual([])
    expect(await store.start(session({ initiator: record.initiator, now }), { maxOpen: 1, now })).toEqual({ outcome: 'started' })
  }, 15_000)
})
