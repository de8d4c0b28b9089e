import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'vitest'
import { nodeCommand as command, parseClusterNodes, parseInfo, type NodeView } from './cluster-nodes.js'
import { distinctFreePorts, onPath, run, sleep, spawnClusterNode, terminate, waitForPing, type NodeProcess } from './cluster-processes.js'
import { SLOTS as CLUSTER_SLOTS, keySlot } from '../../src/stores/redis/keys.js'

/**
 * A real Redis Cluster for tests: `redis-server` children on free loopback ports joined by
 * `redis-cli --cluster create`, persistence off. Needs Redis 7.0 or later (`--cluster-port` puts the
 * cluster bus on a free port of its own instead of the data port + 10000).
 */
export interface RedisCluster {
  /** Every node started, with its role as of the last start, failover(), migrateSlot() or waitUntilHealthy(). */
  readonly nodes: readonly ClusterNode[]
  /** `127.0.0.1:<port>` of every node started, in start order (ioredis `Cluster` accepts these as startup nodes). */
  readonly seeds: readonly string[]
  /** `redis+cluster://<seeds joined by ,>/`: the REDIS_URL form the service is to accept (issue 12). */
  readonly url: string
  /** The port of the master serving a slot (a number) or a key's slot (a string), as the cluster reports it now. */
  masterFor(slotOrKey: number | string): Promise<number>
  /**
   * Manual failover (CLUSTER FAILOVER on the master's replica). Resolves with the replica's port once
   * it is master, the old master replicates from it and every live node agrees.
   */
  failover(masterPort: number): Promise<number>
  /** Signal the node (SIGKILL: a crash; SIGTERM: a clean stop) by the PID this helper started, and wait for it to exit. */
  kill(port: number, signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>
  /** SIGSTOP: the node keeps its sockets and answers nothing, to clients or the cluster bus. */
  pause(port: number): Promise<void>
  /** SIGCONT after pause(). */
  resume(port: number): Promise<void>
  /**
   * Move one slot and its keys between masters, by the documented live-resharding procedure
   * (IMPORTING, MIGRATING, MIGRATE in batches, SETSLOT NODE on the destination, the source, then every
   * other master). Resolves with the number of keys moved once every live node agrees on the new owner.
   */
  migrateSlot(slot: number, fromPort: number, toPort: number): Promise<number>
  /**
   * Resolves when every answering node (live, not paused) reports cluster_state:ok, all 16384 slots
   * are served by answering masters, no slot is being migrated, every answering replica's link to
   * its master is up, and the answering nodes agree on who serves which slot and who replicates whom.
   * After kill() or pause() of a master this waits for its replica to take over (about
   * cluster-node-timeout plus an election); with no replica it rejects after `timeoutMs`.
   */
  waitUntilHealthy(timeoutMs?: number): Promise<void>
  /** SIGTERM every live node, wait for them to exit, remove their directories. */
  stop(): Promise<void>
}

export type ClusterRole = 'master' | 'replica'

export interface ClusterNode {
  readonly port: number
  readonly pid: number
  /** The node's cluster id (CLUSTER MYID). */
  readonly id: string
  readonly role: ClusterRole
  /** False once kill() has seen the process exit. */
  readonly alive: boolean
  /** True between pause() and resume(): the cluster may fail it over, and the health checks leave it out. */
  readonly paused: boolean
}

export interface StartRedisClusterOptions {
  /** How many masters share the slots; redis-cli needs at least 3. Default 3. */
  masters?: number
  /** 1: one replica per master (for failover tests). Default 0. */
  replicasPerMaster?: 0 | 1
  /**
   * cluster-node-timeout, in ms: how long a node may be unreachable before it is flagged failing and
   * its replica promoted. Default 2000: short for tests, long enough that a busy shared machine's
   * stalls do not cause failovers nobody asked for.
   */
  nodeTimeoutMs?: number
  /** More redis-server arguments for every node. */
  args?: string[]
}

const DEFAULT_NODE_TIMEOUT_MS = 2000
const HEALTHY_TIMEOUT_MS = 20_000
const POLL_MS = 50
/** Keys per MIGRATE round trip (redis-cli --cluster reshard moves 10 by default). */
const MIGRATE_BATCH = 100
const MIGRATE_TIMEOUT_MS = 5_000

export function redisClusterAvailable(): boolean {
  return onPath('redis-server') && onPath('redis-cli')
}

/**
 * `describe`, or a loud skip without redis-server and redis-cli on PATH. With MECHA_REQUIRE_REDIS_CLUSTER=1
 * or MECHA_REQUIRE_REDIS=1 (CI) the missing binaries are a failing test instead.
 */
export function describeWithRedisCluster(name: string, fn: () => void): void {
  if (redisClusterAvailable()) {
    describe(name, fn)
    return
  }
  const needs = 'redis-server and redis-cli (Redis 7.0 or later) on PATH'
  const required = process.env.MECHA_REQUIRE_REDIS_CLUSTER === '1' ? 'MECHA_REQUIRE_REDIS_CLUSTER=1' : process.env.MECHA_REQUIRE_REDIS === '1' ? 'MECHA_REQUIRE_REDIS=1' : undefined
  if (required !== undefined) {
    describe(name, () => {
      it(`needs ${needs}`, () => {
        throw new Error(`"${name}" needs ${needs}, and ${required} forbids skipping it`)
      })
    })
    return
  }
  console.warn(
    `\n${'!'.repeat(78)}\n!!! SKIPPED: "${name}" needs ${needs} (set MECHA_REQUIRE_REDIS_CLUSTER=1 to fail instead)\n${'!'.repeat(78)}\n`,
  )
  describe.skip(name, fn)
}

interface NodeRecord extends NodeProcess {
  /** The node's cluster id, known once the cluster is created. */
  id: string
  role: ClusterRole
  alive: boolean
  paused: boolean
}

export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3
  const replicasPerMaster = options.replicasPerMaster ?? 0
  const nodeTimeoutMs = options.nodeTimeoutMs ?? DEFAULT_NODE_TIMEOUT_MS
  if (!Number.isInteger(masters) || masters < 3) throw new RangeError(`expected masters to be an integer of at least 3, got ${masters}`)
  if (replicasPerMaster !== 0 && replicasPerMaster !== 1) throw new RangeError(`expected replicasPerMaster to be 0 or 1, got ${String(replicasPerMaster)}`)
  if (!Number.isInteger(nodeTimeoutMs) || nodeTimeoutMs < 100) throw new RangeError(`expected nodeTimeoutMs to be an integer of at least 100, got ${nodeTimeoutMs}`)
  if (!redisClusterAvailable()) throw new Error('startRedisCluster needs redis-server and redis-cli on PATH')

  const base = mkdtempSync(join(tmpdir(), 'mecharim-redis-cluster-'))
  const records: NodeRecord[] = []
  try {
    const ports = await distinctFreePorts(2 * masters * (1 + replicasPerMaster))
    const args = ['--cluster-node-timeout', String(nodeTimeoutMs), ...(options.args ?? [])]
    for (let i = 0; i < ports.length; i += 2) {
      const [port, busPort] = [ports[i] as number, ports[i + 1] as number]
      const dir = join(base, `node-${port}`)
      mkdirSync(dir)
      records.push({ ...spawnClusterNode(port, busPort, dir, args), id: '', role: 'master', alive: true, paused: false })
    }
    await Promise.all(records.map(waitForPing))
    // The first `masters` addresses become the masters; redis-cli chooses which replica follows whom.
    await run('redis-cli', ['--cluster', 'create', ...records.map((r) => `127.0.0.1:${r.port}`), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'])
    for (const record of records) record.id = String(await command(record.port, 'CLUSTER', 'MYID'))
    const cluster = clusterOf(records, base)
    await cluster.waitUntilHealthy()
    return cluster
  } catch (err) {
    await Promise.all(records.map((r) => terminate(r.child, 'SIGKILL')))
    rmSync(base, { recursive: true, force: true })
    throw err
  }
}

function clusterOf(records: NodeRecord[], base: string): RedisCluster {
  const seeds = records.map((r) => `127.0.0.1:${r.port}`)
  const live = (): NodeRecord[] => records.filter((r) => r.alive)
  /** Live and not paused: the nodes that can answer. */
  const answering = (): NodeRecord[] => live().filter((r) => !r.paused)
  const byPort = (port: number, what: string): NodeRecord => {
    const record = records.find((r) => r.port === port)
    if (record === undefined) throw new RangeError(`expected ${what} to be the port of a node of this cluster (${records.map((r) => r.port).join(', ')}), got ${port}`)
    if (!record.alive) throw new Error(`expected ${what} to be a live node, but ${port} was killed`)
    return record
  }
  const liveMaster = async (port: number, what: string): Promise<NodeRecord> => {
    const record = byPort(port, what)
    const [role] = (await command(port, 'ROLE')) as [string]
    if (role !== 'master') throw new Error(`expected ${what} to be a master, but ${port} is a ${role}`)
    return record
  }
  const view = async (port: number): Promise<NodeView[]> => parseClusterNodes(String(await command(port, 'CLUSTER', 'NODES')))

  const waitUntilHealthy = async (timeoutMs = HEALTHY_TIMEOUT_MS): Promise<void> => {
    const deadline = Date.now() + timeoutMs
    let last = 'not checked yet'
    for (;;) {
      try {
        last = await unhealthyBecause(answering())
        if (last === '') return
      } catch (err) {
        last = (err as Error).message
      }
      if (Date.now() > deadline) throw new Error(`cluster not healthy after ${timeoutMs} ms: ${last}`)
      await sleep(POLL_MS)
    }
  }

  const unhealthyBecause = async (nodes: NodeRecord[]): Promise<string> => {
    const signatures = new Map<string, number[]>()
    for (const node of nodes) {
      const info = parseInfo(String(await command(node.port, 'CLUSTER', 'INFO')))
      if (info.cluster_state !== 'ok') return `${node.port} reports cluster_state:${info.cluster_state}`
      if (info.cluster_slots_ok !== String(CLUSTER_SLOTS)) return `${node.port} reports cluster_slots_ok:${info.cluster_slots_ok}`
      const nodesView = await view(node.port)
      const myself = nodesView.find((n) => n.flags.includes('myself'))
      if (myself === undefined) return `${node.port}'s CLUSTER NODES has no myself line`
      if (myself.migrating.length > 0 || myself.importing.length > 0) return `${node.port} has slots being migrated: ${[...myself.migrating, ...myself.importing].join(', ')}`
      if (myself.role === 'replica') {
        const replication = parseInfo(String(await command(node.port, 'INFO', 'replication')))
        if (replication.master_link_status !== 'up') return `replica ${node.port}'s link to its master is ${replication.master_link_status}`
      }
      // Right after a kill or a pause every node still lists the lost master with its slots (and
      // cluster_state:ok) until cluster-node-timeout passes and its replica takes over.
      const servedByAnswering = slotsServedBy(nodesView, nodes)
      if (servedByAnswering !== CLUSTER_SLOTS) return `${node.port} sees ${CLUSTER_SLOTS - servedByAnswering} slots on masters that do not answer`
      const signature = agreedTopology(nodesView, nodes)
      signatures.set(signature, [...(signatures.get(signature) ?? []), node.port])
    }
    if (signatures.size > 1) return `nodes disagree on the topology: ${[...signatures.values()].map((ports) => ports.join('+')).join(' vs ')}`
    // Everyone agrees: record the roles they agree on.
    const agreed = await view(nodes[0]?.port as number)
    for (const node of nodes) node.role = agreed.find((n) => n.id === node.id)?.role ?? node.role
    return ''
  }

  const masterFor = async (slotOrKey: number | string): Promise<number> => {
    const slot = typeof slotOrKey === 'string' ? keySlot(slotOrKey) : checkSlot(slotOrKey)
    const asked = answering()[0]
    if (asked === undefined) throw new Error('no answering node to ask')
    const owner = (await view(asked.port)).find((n) => n.role === 'master' && !n.flags.includes('fail') && n.slots.some(([from, to]) => slot >= from && slot <= to))
    if (owner === undefined) throw new Error(`node ${asked.port} knows no master for slot ${slot}`)
    return owner.port
  }

  const failover = async (masterPort: number): Promise<number> => {
    const master = await liveMaster(masterPort, 'masterPort')
    const replicaView = (await view(master.port)).find((n) => n.role === 'replica' && n.masterId === master.id && !n.flags.includes('fail'))
    const replica = records.find((r) => r.id === replicaView?.id && r.alive)
    if (replica === undefined) throw new Error(`expected master ${masterPort} to have a live replica (start the cluster with replicasPerMaster: 1)`)
    await command(replica.port, 'CLUSTER', 'FAILOVER')
    await waitUntil(async () => ((await command(replica.port, 'ROLE')) as [string])[0] === 'master', HEALTHY_TIMEOUT_MS, `replica ${replica.port} did not become master`)
    await waitUntilHealthy()
    return replica.port
  }

  const migrateSlot = async (slot: number, fromPort: number, toPort: number): Promise<number> => {
    checkSlot(slot)
    if (fromPort === toPort) throw new RangeError(`expected two different masters, got ${fromPort} twice`)
    const source = await liveMaster(fromPort, 'fromPort')
    const destination = await liveMaster(toPort, 'toPort')
    const owner = await masterFor(slot)
    if (owner !== fromPort) throw new Error(`expected fromPort to serve slot ${slot}, but ${owner} does`)
    // The destination must accept ASK redirections before the source starts sending them.
    await command(destination.port, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', source.id)
    await command(source.port, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', destination.id)
    let moved = 0
    for (;;) {
      const keys = (await command(source.port, 'CLUSTER', 'GETKEYSINSLOT', String(slot), String(MIGRATE_BATCH))) as string[]
      if (keys.length === 0) break
      // No REPLACE: a key already at the destination is a bug in the test, not something to overwrite.
      await command(source.port, 'MIGRATE', '127.0.0.1', String(destination.port), '', '0', String(MIGRATE_TIMEOUT_MS), 'KEYS', ...keys)
      moved += keys.length
    }
    // Destination first: it then owns the slot and spreads the news, so a crash of either node
    // between the two steps cannot leave the slot with no owner.
    await command(destination.port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', destination.id)
    await command(source.port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', destination.id)
    const others = answering().filter((r) => r !== source && r !== destination && r.role === 'master')
    await Promise.all(others.map((r) => command(r.port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', destination.id)))
    await waitUntilHealthy()
    return moved
  }

  const signal = async (port: number, sig: NodeJS.Signals): Promise<void> => {
    const record = byPort(port, 'port')
    if (sig === 'SIGSTOP' || sig === 'SIGCONT') {
      record.child.kill(sig)
      record.paused = sig === 'SIGSTOP'
      return
    }
    await terminate(record.child, sig)
    record.alive = false
  }

  return {
    get nodes(): readonly ClusterNode[] {
      return records.map((r) => Object.freeze({ port: r.port, pid: r.child.pid as number, id: r.id, role: r.role, alive: r.alive, paused: r.paused }))
    },
    seeds,
    url: `redis+cluster://${seeds.join(',')}/`,
    masterFor,
    failover,
    kill: async (port, sig = 'SIGKILL') => signal(port, sig),
    pause: async (port) => signal(port, 'SIGSTOP'),
    resume: async (port) => signal(port, 'SIGCONT'),
    migrateSlot,
    waitUntilHealthy,
    async stop() {
      // A paused node would ignore SIGTERM until the SIGKILL fallback.
      for (const r of live()) r.child.kill('SIGCONT')
      await Promise.all(live().map(async (r) => {
        await terminate(r.child, 'SIGTERM')
        r.alive = false
      }))
      rmSync(base, { recursive: true, force: true })
    },
  }
}

/**
 * Slot owners and replication links as one node sees them, limited to the live nodes (a killed node
 * lingers in everyone's table, flagged `fail`, with no slots).
 */
function agreedTopology(view: readonly NodeView[], liveNodes: readonly NodeRecord[]): string {
  const liveIds = new Set(liveNodes.map((n) => n.id))
  return view
    .filter((n) => liveIds.has(n.id))
    .map((n) => `${n.id}:${n.role}:${n.masterId ?? '-'}:${n.slots.map(([a, b]) => `${a}-${b}`).join(',')}`)
    .sort()
    .join(' ')
}

/** How many slots the view has on masters among `nodes`. */
function slotsServedBy(view: readonly NodeView[], nodes: readonly NodeRecord[]): number {
  const ids = new Set(nodes.map((n) => n.id))
  return view
    .filter((n) => n.role === 'master' && ids.has(n.id))
    .reduce((sum, n) => sum + n.slots.reduce((count, [from, to]) => count + to - from + 1, 0), 0)
}

function checkSlot(slot: number): number {
  if (!Number.isInteger(slot) || slot < 0 || slot >= CLUSTER_SLOTS) throw new RangeError(`expected a slot from 0 to ${CLUSTER_SLOTS - 1}, got ${slot}`)
  return slot
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number, failure: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last = ''
  for (;;) {
    try {
      if (await condition()) return
    } catch (err) {
      last = ` (last error: ${(err as Error).message})`
    }
    if (Date.now() > deadline) throw new Error(`${failure} within ${timeoutMs} ms${last}`)
    await sleep(POLL_MS)
  }
}

