import { describe, expect, it } from 'vitest'
import { RecordCache } from '../../../src/gateway/record-cache.js'
import { LocalChangeFeed } from '../../../src/stores/local-change-feed.js'
import type { ControlStore } from '../../../src/stores/types.js'
import { keyRecord } from '../../helpers/records.js'

function countingStore(delayMs: number): { store: ControlStore; reads: () => number } {
  let reads = 0
  const key = keyRecord('alpha')
  const store = {
    async getKey() {
      reads++
      await new Promise((r) => setTimeout(r, delayMs))
      return { ...key }
    },
  } as unknown as ControlStore
  return { store, reads: () => reads }
}

describe('RecordCache', () => {
  it('serves repeated lookups from memory', async () => {
    const { store, reads } = countingStore(1)
    const cache = new RecordCache(store, new LocalChangeFeed(), { ttlMs: 60_000, negativeTtlMs: 1000, maxEntries: 10 })
    for (let i = 0; i < 5; i++) await cache.getKey('mkx')
    expect(reads()).toBe(1)
  })

  it('concurrent misses for one record share one store read (regression: 98 reads at once at TTL expiry)', async () => {
    const { store, reads } = countingStore(20)
    const cache = new RecordCache(store, new LocalChangeFeed(), { ttlMs: 60_000, negativeTtlMs: 1000, maxEntries: 10 })
    const results = await Promise.all(Array.from({ length: 50 }, () => cache.getKey('mkx')))
    expect(reads()).toBe(1)
    expect(new Set(results.map((r) => r?.id)).size).toBe(1)
  })

  it('a change evicts at once; a read begun before the change does not repopulate the cache', async () => {
    const { store, reads } = countingStore(20)
    const feed = new LocalChangeFeed()
    const cache = new RecordCache(store, feed, { ttlMs: 60_000, negativeTtlMs: 1000, maxEntries: 10 })
    const inFlight = cache.getKey('mkx')
    feed.publish({ kind: 'key', id: 'mkx' })
    await inFlight
    await cache.getKey('mkx')
    expect(reads()).toBe(2)
  })
})
