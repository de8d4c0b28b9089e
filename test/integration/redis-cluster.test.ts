import { Cluster } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { keySlot } from '../../src/stores/redis/keys.js'
import { onNode } from '../helpers/cluster-nodes.js'
import { describeWithRedisCluster, startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js'

/** Groundwork for issue 12: the test cluster itself, before the service runs on one. */
describeWithRedisCluster('a local Redis Cluster of 3 masters (test/helpers/redis-cluster.ts)', () => {
  let cluster: RedisCluster
  let client: Cluster

  beforeAll(async () => {
    cluster = await startRedisCluster()
    client = new Cluster([...cluster.seeds])
    client.on('error', () => {})
  }, 60_000)
  afterAll(async () => {
    client?.disconnect()
    await cluster?.stop()
  })

  it('starts 3 masters on distinct ports, each reporting cluster_state:ok and all 16384 slots served', async () => {
    expect(cluster.nodes).toHaveLength(3)
    expect(cluster.nodes.every((n) => n.role === 'master' && n.alive && n.pid > 0)).toBe(true)
    expect(new Set(cluster.nodes.map((n) => n.port)).size).toBe(3)
    expect(cluster.url).toBe(`redis+cluster://${cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}/`)
    for (const node of cluster.nodes) {
      const info = await onNode(node.port, async (r) => String(await r.call('CLUSTER', 'INFO')))
      expect(info).toContain('cluster_state:ok')
      expect(info).toContain('cluster_slots_ok:16384')
      expect(info).toContain('cluster_known_nodes:3')
    }
  })

  it('an ioredis Cluster writes and reads keys on every master, each key on the master its slot says', async () => {
    const keys = Array.from({ length: 60 }, (_, i) => `spread:${i}`)
    await Promise.all(keys.map((key) => client.set(key, `value of ${key}`)))
    expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map((key) => `value of ${key}`))

    const owners = await Promise.all(keys.map((key) => cluster.masterFor(key)))
    expect(new Set(owners).size).toBe(3)
    for (const [i, key] of keys.entries()) {
      expect(await onNode(owners[i] as number, (r) => r.exists(key)), key).toBe(1)
    }
  })

  it('keySlot agrees with CLUSTER KEYSLOT for 200 random keys and the hash-tag edge cases', async () => {
    const edgeCases = ['', '{}', '{a}{b}', 'a{', '{a', '}{a}', '{}{a}', '{{a}}', 'a{b}c', '{a}', 'foo{}{bar}', 'foo{{bar}}zap', 'foo{bar}{zap}', 'ключ{тег}', '🔑{🏷️}x', '{', '}', '{}}', '{{}']
    const random = mulberry32(12)
    const alphabet = ['a', 'b', 'z', '0', '9', ':', '{', '}', '{', '}', 'é', '€', '𝄞']
    const randomKeys = Array.from({ length: 200 }, () => {
      const length = Math.floor(random() * 12)
      return Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('')
    })
    const binaryKeys = Array.from({ length: 20 }, () => Buffer.from(Array.from({ length: 1 + Math.floor(random() * 10) }, () => Math.floor(random() * 256))))
    await onNode(cluster.nodes[0]?.port as number, async (redis) => {
      for (const key of [...edgeCases, ...randomKeys, ...binaryKeys]) {
        expect(keySlot(key), JSON.stringify(typeof key === 'string' ? key : key.toString('hex'))).toBe(await redis.call('CLUSTER', 'KEYSLOT', key))
      }
    })
  })

  it('migrateSlot moves a slot holding keys; the same ioredis Cluster and a new one read them from the new master', async () => {
    const keys = Array.from({ length: 5 }, (_, i) => `{migrating}:${i}`)
    const slot = keySlot('migrating')
    await Promise.all(keys.map((key) => client.set(key, key.toUpperCase())))
    const from = await cluster.masterFor(slot)
    const to = cluster.nodes.find((n) => n.port !== from)?.port as number

    expect(await cluster.migrateSlot(slot, from, to)).toBe(keys.length)

    expect(await cluster.masterFor(slot)).toBe(to)
    expect(await onNode(to, (r) => r.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot)))).toBe(keys.length)
    expect(await onNode(from, (r) => r.call('CLUSTER', 'COUNTKEYSINSLOT', String(slot)))).toBe(0)
    // The first client still maps the slot to the old master: MOVED sends it on.
    expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map((key) => key.toUpperCase()))
    const fresh = new Cluster([...cluster.seeds])
    try {
      expect(await fresh.mget(...keys)).toEqual(keys.map((key) => key.toUpperCase()))
    } finally {
      fresh.disconnect()
    }
  })

  it('refuses a migration from a master that does not serve the slot, saying who does', async () => {
    const slot = keySlot('elsewhere')
    const owner = await cluster.masterFor(slot)
    const other = cluster.nodes.find((n) => n.port !== owner)?.port as number
    await expect(cluster.migrateSlot(slot, other, owner)).rejects.toThrow(`expected fromPort to serve slot ${slot}, but ${owner} does`)
    await expect(cluster.migrateSlot(16384, owner, other)).rejects.toThrow('expected a slot from 0 to 16383, got 16384')
  })
})

/** A small seeded PRNG: the same random keys on every run, so a failure can be reproduced. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
