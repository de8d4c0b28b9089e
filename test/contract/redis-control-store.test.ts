import { RedisControlStore } from '../../src/stores/redis/control-store.js'
import type { ControlStore } from '../../src/stores/types.js'
import { describeEachRedis, sharedRedisOf } from '../helpers/shared-redis.js'
import { controlStoreContract } from './control-store.contract.js'

describeEachRedis('RedisControlStore', (kind) => {
  controlStoreContract(`redis (${kind})`, () => {
    const redis = sharedRedisOf(kind)
    const prefixOf = new WeakMap<ControlStore, string>()

    const openAt = async (prefix: string): Promise<ControlStore> => {
      const store = new RedisControlStore(await redis.connect(), prefix)
      prefixOf.set(store, prefix)
      return store
    }

    return {
      async open() {
        return openAt(redis.newPrefix())
      },
      async reopen(store) {
        const prefix = prefixOf.get(store)
        if (prefix === undefined) throw new Error('unknown store')
        await store.close()
        return openAt(prefix)
      },
      teardown: redis.teardown,
    }
  })
})
