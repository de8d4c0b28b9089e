import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { keySlot } from '../../src/stores/redis/keys.js'
import { onNode } from '../helpers/cluster-nodes.js'
import { describeWithRedisCluster, startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js'

/** Groundwork for issue 12: failover in the test cluster, and what an ioredis Cluster sees of it. */
describeWithRedisCluster('a local Redis Cluster of 3 masters and 3 replicas: failover', () => {
  let cluster: RedisCluster
  let client: Cluster
  /** What the client emitted, in order: `+node <port>`, `-node <port>`, `refresh`, `node error`. */
  const events: string[] = []

  beforeAll(async () => {
    cluster = await startRedisCluster({ replicasPerMaster: 1 })
    client = new Cluster([...cluster.seeds])
    client.on('error', () => {})
    client.on('+node', (node: Redis) => events.push(`+node ${node.options.port}`))
    client.on('-node', (node: Redis) => events.push(`-node ${node.options.port}`))
    client.on('refresh', () => events.push('refresh'))
    client.on('node error', () => events.push('node error'))
  }, 60_000)
  afterAll(async () => {
    client?.disconnect()
    await cluster?.stop()
  })

  /** Writes through the cluster client, then waits until the slot's replica has them (replication is asynchronous). */
  async function writeReplicated(keys: string[]): Promise<void> {
    await Promise.all(keys.map((key) => client.set(key, `before:${key}`)))
    const master = await cluster.masterFor(keys[0] as string)
    expect(await onNode(master, (r) => r.call('WAIT', '1', '4000'))).toBe(1)
  }

  it('starts 3 masters and 3 replicas, one replica following each master', async () => {
    const masters = cluster.nodes.filter((n) => n.role === 'master')
    expect(masters).toHaveLength(3)
    expect(cluster.nodes.filter((n) => n.role === 'replica')).toHaveLength(3)
    for (const master of masters) {
      const replicas = await onNode(master.port, (r) => r.call('INFO', 'replication'))
      expect(String(replicas)).toContain('connected_slaves:1')
    }
  })

  it('failover() promotes the replica; keys written before are read from the new master through the same client', async () => {
    const keys = Array.from({ length: 5 }, (_, i) => `{manual}:${i}`)
    await writeReplicated(keys)
    const oldMaster = await cluster.masterFor(keySlot('manual'))
    events.length = 0

    const newMaster = await cluster.failover(oldMaster)

    expect(newMaster).not.toBe(oldMaster)
    expect(await onNode(newMaster, (r) => r.call('ROLE'))).toContain('master')
    expect(cluster.nodes.find((n) => n.port === newMaster)?.role).toBe('master')
    expect(cluster.nodes.find((n) => n.port === oldMaster)?.role).toBe('replica')
    expect(await cluster.masterFor(keySlot('manual'))).toBe(newMaster)
    expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map((key) => `before:${key}`))
    // The pool holds masters only: the promoted replica was added (on the MOVED, or a refresh) before any read reached it.
    expect(events).toContain(`+node ${newMaster}`)
  })

  it('after kill -9 of a master its replica takes over by itself; keys written before are still readable', async () => {
    const keys = Array.from({ length: 5 }, (_, i) => `{crash}:${i}`)
    await writeReplicated(keys)
    const victim = await cluster.masterFor(keySlot('crash'))
    const pid = cluster.nodes.find((n) => n.port === victim)?.pid

    await cluster.kill(victim)
    expect(() => process.kill(pid as number, 0)).toThrow()
    await cluster.waitUntilHealthy()

    const heir = await cluster.masterFor(keySlot('crash'))
    expect(heir).not.toBe(victim)
    expect(cluster.nodes.find((n) => n.port === victim)?.alive).toBe(false)
    expect(cluster.nodes.find((n) => n.port === heir)?.role).toBe('master')
    expect(await Promise.all(keys.map((key) => client.get(key)))).toEqual(keys.map((key) => `before:${key}`))
    await expect(cluster.failover(victim)).rejects.toThrow(`expected masterPort to be a live node, but ${victim} was killed`)
  })

  it('a paused (hung) master is failed over; resumed, it rejoins as a replica of its heir', async () => {
    const masters = cluster.nodes.filter((n) => n.role === 'master' && n.alive)
    const replicated = await Promise.all(masters.map(async (n) => String(await onNode(n.port, (r) => r.call('INFO', 'replication'))).includes('connected_slaves:1')))
    const hung = masters[replicated.indexOf(true)]?.port as number
    let key = ''
    for (let i = 0; key === ''; i++) if (await cluster.masterFor(`hung:${i}`) === hung) key = `hung:${i}`
    await writeReplicated([key])

    await cluster.pause(hung)
    expect(cluster.nodes.find((n) => n.port === hung)?.paused).toBe(true)
    await cluster.waitUntilHealthy()
    const heir = await cluster.masterFor(key)
    expect(heir).not.toBe(hung)
    // A new client: the shared one still maps the slot to the hung node, and with ioredis's defaults (no
    // commandTimeout, no slotsRefreshInterval) a command written to that socket waits, without an
    // event, until the node resumes and answers MOVED.
    const fresh = new Cluster([...cluster.seeds])
    fresh.on('error', () => {})
    try {
      expect(await fresh.get(key)).toBe(`before:${key}`)
    } finally {
      fresh.disconnect()
    }

    await cluster.resume(hung)
    await cluster.waitUntilHealthy()
    expect(cluster.nodes.find((n) => n.port === hung)).toMatchObject({ role: 'replica', paused: false })
    expect(await onNode(hung, (r) => r.call('ROLE'))).toContain('slave')
  })
})
