import { describe, expect, it } from 'vitest'
import { lmdbSpace } from '../../../src/stores/embedded/space-sample.js'
import { HighWaterMark, overHighWater, type StorageSample } from '../../../src/stores/high-water.js'
import { parseInfoMemory } from '../../../src/stores/redis/memory-sample.js'
import { checkStoragePressure } from '../../../src/transport/checks.js'

/** A reader the test answers by hand, counting how often the mark sampled. */
function reader(initial: StorageSample): { read: () => Promise<StorageSample>; sample: StorageSample; reads: number; fail: Error | undefined } {
  const r = {
    sample: initial,
    reads: 0,
    fail: undefined as Error | undefined,
    read: async (): Promise<StorageSample> => {
      r.reads++
      if (r.fail !== undefined) throw r.fail
      return r.sample
    },
  }
  return r
}

describe('overHighWater', () => {
  it('is at or above the ratio of the capacity; no capacity is no limit', () => {
    expect(overHighWater({ used: 89, capacity: 100 }, 0.9)).toBe(false)
    expect(overHighWater({ used: 90, capacity: 100 }, 0.9)).toBe(true)
    expect(overHighWater({ used: 100, capacity: 100 }, 1)).toBe(true)
    expect(overHighWater({ used: 10 ** 12, capacity: 0 }, 0.9), 'Redis without maxmemory').toBe(false)
  })
})

describe('HighWaterMark', () => {
  it('samples at most once per interval, and again once it has passed', async () => {
    let now = 1_000_000
    const r = reader({ used: 10, capacity: 100 })
    const mark = new HighWaterMark(r.read, { ratio: 0.9, now: () => now })
    expect(await mark.refuses()).toBe(false)
    r.sample = { used: 95, capacity: 100 }
    now += 999
    expect(await mark.refuses(), 'the last sample still holds').toBe(false)
    expect(r.reads).toBe(1)
    now += 1
    expect(await mark.refuses()).toBe(true)
    expect(r.reads).toBe(2)
  })

  it('answers from the last sample without a promise while it is fresh', async () => {
    const r = reader({ used: 10, capacity: 100 })
    const mark = new HighWaterMark(r.read, { now: () => 0 })
    await mark.refuses()
    expect(mark.refuses()).toBe(false)
  })

  it('takes one sample for concurrent callers', async () => {
    const r = reader({ used: 95, capacity: 100 })
    const mark = new HighWaterMark(r.read)
    expect(await Promise.all([mark.refuses(), mark.refuses(), mark.refuses()])).toEqual([true, true, true])
    expect(r.reads).toBe(1)
  })

  it('adds what this process stored since the sample, until the next sample', async () => {
    let now = 0
    const r = reader({ used: 50, capacity: 100 })
    const mark = new HighWaterMark(r.read, { ratio: 0.9, now: () => now })
    expect(await mark.refuses()).toBe(false)
    mark.stored(39)
    expect(await mark.refuses()).toBe(false)
    mark.stored(1)
    expect(await mark.refuses(), 'a flood within one interval is stopped at the mark').toBe(true)
    r.sample = { used: 60, capacity: 100 }
    now += 1000
    expect(await mark.refuses(), 'the new sample replaces the estimate').toBe(false)
  })

  it('keeps counting bytes stored while a sample is in flight (they may not be in it)', async () => {
    let release: (sample: StorageSample) => void = () => undefined
    const mark = new HighWaterMark(() => new Promise((resolve) => { release = resolve }), { ratio: 0.9 })
    const pending = mark.refuses()
    mark.stored(45)
    release({ used: 50, capacity: 100 })
    expect(await pending).toBe(true)
  })

  it('rejects when the store cannot be sampled, keeps no verdict, and samples again on the next call', async () => {
    const r = reader({ used: 10, capacity: 100 })
    r.fail = new Error('INFO failed')
    const mark = new HighWaterMark(r.read)
    await expect(Promise.resolve(mark.refuses())).rejects.toThrow('INFO failed')
    r.fail = undefined
    expect(await mark.refuses()).toBe(false)
    expect(r.reads).toBe(2)
  })

  it('refuses a malformed sample as a fault', async () => {
    const mark = new HighWaterMark(async () => ({ used: Number.NaN, capacity: 1 }))
    await expect(Promise.resolve(mark.refuses())).rejects.toThrow(/expected a storage sample/)
  })

  it('checks its options when constructed', () => {
    const read = async (): Promise<StorageSample> => ({ used: 0, capacity: 0 })
    expect(() => new HighWaterMark(read, { ratio: 0 })).toThrow('expected ratio to be above 0 and at most 1, got 0')
    expect(() => new HighWaterMark(read, { ratio: 1.5 })).toThrow(/got 1.5/)
    expect(() => new HighWaterMark(read, { intervalMs: -1 })).toThrow(/intervalMs/)
    expect(() => new HighWaterMark(undefined as never)).toThrow('expected read to be a function, got undefined')
  })
})

describe('parseInfoMemory', () => {
  // From a redis-server 7.0.15 (`INFO memory`, abridged), as ioredis returns it (CRLF).
  const INFO = [
    '# Memory', 'used_memory:914496', 'used_memory_human:893.06K', 'used_memory_rss:12046336', 'used_memory_peak:914496',
    'used_memory_dataset:38272', 'maxmemory:16777216', 'maxmemory_human:16.00M', 'maxmemory_policy:noeviction', '',
  ].join('\r\n')

  it('reads used_memory against maxmemory', () => {
    expect(parseInfoMemory(INFO)).toEqual({ used: 914496, capacity: 16777216 })
  })

  it('has no capacity without maxmemory', () => {
    expect(parseInfoMemory(INFO.replace('maxmemory:16777216', 'maxmemory:0'))).toEqual({ used: 914496, capacity: 0 })
  })

  it('refuses a reply without the fields', () => {
    expect(() => parseInfoMemory('# Memory\r\nused_memory_human:1K\r\n')).toThrow('INFO memory has no used_memory')
  })
})

describe('lmdbSpace', () => {
  const tree = (pages: number): { treeBranchPageCount: number; treeLeafPageCount: number; overflowPages: number } =>
    ({ treeBranchPageCount: 1, treeLeafPageCount: pages - 1, overflowPages: 0 })

  it('uses the pages of every tree and the meta pages; may use the file and the free disk', () => {
    const sample = lmdbSpace({ pageSize: 4096, lastPageNumber: 999 }, [tree(10), { ...tree(5), overflowPages: 83 }], { bsize: 4096, bavail: 9000 })
    expect(sample).toEqual({ used: (2 + 10 + 88) * 4096, capacity: (1000 + 9000) * 4096 })
  })

  it('a drained store is far from the mark although its file is as large; a full disk is at it', () => {
    const env = { pageSize: 4096, lastPageNumber: 99_999 }
    expect(overHighWater(lmdbSpace(env, [tree(500)], { bsize: 4096, bavail: 0 }), 0.9), 'pages freed by acks are reused').toBe(false)
    expect(overHighWater(lmdbSpace(env, [tree(95_000)], { bsize: 4096, bavail: 1000 }), 0.9)).toBe(true)
    expect(overHighWater(lmdbSpace(env, [tree(50_000)], { bsize: 4096, bavail: 10_000_000 }), 0.9), 'a large free disk').toBe(false)
  })
})

describe('a transport\'s options.pressure', () => {
  it('is checked when the transport is constructed', () => {
    const mark = new HighWaterMark(async () => ({ used: 0, capacity: 0 }))
    expect(checkStoragePressure(mark)).toBe(mark)
    expect(checkStoragePressure(undefined)).toBeUndefined()
    expect(() => checkStoragePressure({ refuses: () => false } as never)).toThrow('expected options.pressure to be a storage high-water mark (refuses, stored), got [object Object]')
  })
})
