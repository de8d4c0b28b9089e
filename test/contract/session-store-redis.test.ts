import { Cluster } from 'ioredis'
import { RedisSessionStore } from '../../src/sessions/redis.js'
import type { SessionStore } from '../../src/sessions/types.js'
import type { RedisClient } from '../../src/stores/redis/client.js'
import { describeEachRedis, quit, sharedRedisOf } from '../helpers/shared-redis.js'
import { sessionStoreContract } from './session-store.contract.js'

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

void Cluster
