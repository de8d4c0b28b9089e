import { Redis } from 'ioredis'
import { RedisKeys, SLOTS, keySlot, type RedisLayout } from '../src/stores/redis/keys.js'

/**
 * Redis counters around a run, read with one INFO per node per snapshot on connections of the
 * bench's own (no auto-pipelining). Each snapshot records how many commands the bench itself had sent
 * to each node, so `delta` subtracts its own INFOs (one command and one read event each) however many
 * snapshots were taken in between. On a cluster the nodes are its masters, each read directly, and
 * the figures are their sums.
 *
 * What the counters mean (Redis 7):
 * - `total_commands_processed` and commandstats count the commands a script runs too (an accept
 *   script is one EVALSHA plus the ten or so commands inside it), so they measure work, not trips;
 * - `total_reads_processed` counts read events on client sockets: one per batch of commands a
 *   client sent together. That is the round-trip count, after ioredis's auto-pipelining has merged
 *   concurrent commands into shared writes (so it can be below one per message under load);
 * - `used_cpu_sys` + `used_cpu_user` are the server's own CPU time (getrusage, all its threads);
 * - commandstats' `usec` is the time spent executing each command: a script's includes the commands
 *   it runs (which also count under their own names), and none includes reading or writing sockets.
 */
/** What INFO tells of one server, or of all of a cluster's masters summed. */
interface Counters {
  commands: number
  reads: number
  usedMemory: number
  /** User + system CPU time of the server(s), µs. */
  cpuMicros: number
  /** Calls per command name (commandstats), e.g. `evalsha`, `get`. */
  calls: Map<string, number>
  /** Execution time per command name, µs (commandstats `usec`). */
  usec: Map<string, number>
}

export interface RedisSnapshot extends Counters {
  /** When it was taken (Date.now()). */
  at: number
  /** The same, per node (one entry on a standalone server). */
  nodes: NodeSnapshot[]
}

export interface NodeSnapshot extends Counters {
  /** `127.0.0.1:<port>`. */
  address: string
  /** Commands the bench had sent to this node before this snapshot's INFO. */
  own: number
}

export interface RedisDelta {
  /** Messages Redis accepted during the run (the inboxes' length; the bench empties them first). */
  accepted?: number
  /** Client commands and commands run inside scripts. */
  commands: number
  /** Read events on client sockets: network round trips. */
  reads: number
  usedMemoryBytes: number
  /** Redis's own CPU time over the run, µs (all nodes). */
  cpuMicros: number
  /** Wall time between the two snapshots. */
  seconds: number
  calls: Record<string, number>
  /** Execution time per command name, µs. */
  usec: Record<string, number>
  /** Per node: how the work spread over a cluster's masters. */
  nodes: NodeDelta[]
}

export interface NodeDelta {
  address: string
  commands: number
  reads: number
  cpuMicros: number
  /** EVALSHA calls: accepts (results.ts safetyCheckWork says why not EVAL). */
  evalsha: number
  /** Execution time of EVAL calls, µs. */
  evalMicros: number
}

/** The service's default MECHA_REDIS_PREFIX (the bench does not set it). */
export const REDIS_PREFIX = 'mecharim:'

/** How often `settledSnapshot` looks, and how long it waits at most for scripts to stop arriving. */
const SETTLE_POLL_MS = 250
const SETTLE_QUIET_POLLS = 2
const SETTLE_MAX_MS = 5000

interface StatsNode {
  address: string
  redis: Redis
  /** Commands sent on `redis` so far. */
  sent: number
}

export class RedisStats {
  readonly #nodes: StatsNode[]
  readonly #keys: RedisKeys
  /** Cluster: the index in #nodes of the master serving each slot (read once: the bench never reshards). */
  readonly #slotOwner: Uint8Array | undefined

  private constructor(nodes: StatsNode[], layout: RedisLayout, slotOwner: Uint8Array | undefined) {
    this.#nodes = nodes
    this.#keys = new RedisKeys(REDIS_PREFIX, layout)
    this.#slotOwner = slotOwner
  }

  /** One standalone server, at a `redis://` URL. */
  static standalone(url: string): RedisStats {
    return new RedisStats([{ address: new URL(url).host, redis: connect(url), sent: 0 }], 'standalone', undefined)
  }

  /** Every master of a Redis Cluster, reached through any of its nodes (loopback ports). */
  static async cluster(seedPort: number): Promise<RedisStats> {
    const seed = connect(`redis://127.0.0.1:${seedPort}`)
    try {
      // CLUSTER SLOTS: [[from, to, [host, port, id, ...], ...replicas], ...]
      const ranges = (await seed.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][]
      const ports = [...new Set(ranges.map(([, , [, port]]) => port))].sort((a, b) => a - b)
      const slotOwner = new Uint8Array(SLOTS).fill(255)
      for (const [from, to, [, port]] of ranges) slotOwner.fill(ports.indexOf(port), from, to + 1)
      if (slotOwner.includes(255)) throw new Error('the cluster does not serve every slot')
      const nodes = ports.map((port) => ({ address: `127.0.0.1:${port}`, redis: connect(`redis://127.0.0.1:${port}`), sent: 0 }))
      return new RedisStats(nodes, 'cluster', slotOwner)
    } finally {
      seed.disconnect()
    }
  }

  get masters(): number {
    return this.#nodes.length
  }

  /** The address of the node that holds a recipient's inbox. */
  nodeOf(recipient: string): string {
    return this.#nodeFor(this.#keys.inbox(recipient)).address
  }

  async snapshot(): Promise<RedisSnapshot> {
    const at = Date.now()
    const nodes = await Promise.all(this.#nodes.map(async (node) => {
      const own = node.sent++
      return nodeSnapshot(node.address, own, String(await node.redis.call('INFO', 'stats', 'memory', 'cpu', 'commandstats')))
    }))
    const sum = (field: 'commands' | 'reads' | 'usedMemory' | 'cpuMicros'): number => nodes.reduce((total, node) => total + node[field], 0)
    const sumMaps = (field: 'calls' | 'usec'): Map<string, number> => {
      const total = new Map<string, number>()
      for (const node of nodes) for (const [name, n] of node[field]) total.set(name, (total.get(name) ?? 0) + n)
      return total
    }
    return { at, commands: sum('commands'), reads: sum('reads'), usedMemory: sum('usedMemory'), cpuMicros: sum('cpuMicros'), calls: sumMaps('calls'), usec: sumMaps('usec'), nodes }
  }

  /**
   * A snapshot taken once script calls (EVALSHA) have stopped arriving: requests still in the
   * gateways when the load generator stopped (on a loaded machine, for hundreds of ms) are counted in
   * the run they belong to, and the inboxes read afterwards hold exactly the messages it counts.
   */
  async settledSnapshot(): Promise<RedisSnapshot> {
    const deadline = Date.now() + SETTLE_MAX_MS
    const scripts = (snapshot: RedisSnapshot): number => snapshot.calls.get('evalsha') ?? 0
    let last = await this.snapshot()
    let quiet = 0
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS))
      const next = await this.snapshot()
      quiet = scripts(next) === scripts(last) ? quiet + 1 : 0
      // Two quiet polls in a row: a gateway descheduled for one poll interval on a loaded machine
      // still gets counted.
      if (quiet >= SETTLE_QUIET_POLLS || Date.now() > deadline) return next
      last = next
    }
  }

  /**
   * Drop a recipient's inbox stream, id map, due index and byte usage, so Redis memory stays bounded
   * between runs. DEL, not UNLINK: the memory must be free before the next run's `used_memory` is
   * read, not freed during it.
   */
  async dropInbox(recipient: string): Promise<void> {
    const k = this.#keys
    const keys = [k.inbox(recipient), k.inboxIds(recipient), k.inboxDue(recipient), k.inboxUsage(recipient)]
    const node = this.#nodeFor(keys[0] as string)
    node.sent++
    await node.redis.del(...keys)
  }

  async inboxLength(recipient: string): Promise<number> {
    const key = this.#keys.inbox(recipient)
    const node = this.#nodeFor(key)
    node.sent++
    return node.redis.xlen(key)
  }

  async close(): Promise<void> {
    await Promise.all(this.#nodes.map(({ redis }) => redis.quit().catch(() => redis.disconnect())))
  }

  #nodeFor(key: string): StatsNode {
    const index = this.#slotOwner === undefined ? 0 : this.#slotOwner[keySlot(key)] as number
    return this.#nodes[index] as StatsNode
  }
}

function connect(url: string): Redis {
  return new Redis(url, { lazyConnect: false, enableAutoPipelining: false, maxRetriesPerRequest: 1 })
}

function nodeSnapshot(address: string, own: number, info: string): NodeSnapshot {
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:(\\d+(?:\\.\\d+)?)`, 'm').exec(info)
    if (match === null) throw new Error(`INFO of ${address} has no ${name}`)
    return Number(match[1])
  }
  const calls = new Map<string, number>()
  const usec = new Map<string, number>()
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    calls.set(match[1] as string, Number(match[2]))
    usec.set(match[1] as string, Number(match[3]))
  }
  return {
    address,
    own,
    commands: field('total_commands_processed'),
    reads: field('total_reads_processed'),
    usedMemory: field('used_memory'),
    cpuMicros: Math.round((field('used_cpu_sys') + field('used_cpu_user')) * 1e6),
    calls,
    usec,
  }
}

export function delta(before: RedisSnapshot, after: RedisSnapshot): RedisDelta {
  const changes = (field: 'calls' | 'usec'): Record<string, number> => {
    const out: Record<string, number> = {}
    for (const [name, n] of after[field]) {
      const d = n - (before[field].get(name) ?? 0)
      if (d > 0 && name !== 'info') out[name] = d
    }
    return out
  }
  let own = 0
  const nodes = after.nodes.map((node): NodeDelta => {
    const was = before.nodes.find((b) => b.address === node.address)
    if (was === undefined) throw new Error(`expected ${node.address} in both snapshots`)
    // Between the two INFOs: the first one (a command) and the last one (a read event), and whatever
    // else the bench sent in between, one of each per command.
    const mine = node.own - was.own
    own += mine
    return {
      address: node.address,
      commands: node.commands - was.commands - mine,
      reads: node.reads - was.reads - mine,
      cpuMicros: node.cpuMicros - was.cpuMicros,
      evalsha: (node.calls.get('evalsha') ?? 0) - (was.calls.get('evalsha') ?? 0),
      evalMicros: (node.usec.get('eval') ?? 0) - (was.usec.get('eval') ?? 0),
    }
  })
  return {
    commands: after.commands - before.commands - own,
    reads: after.reads - before.reads - own,
    usedMemoryBytes: after.usedMemory - before.usedMemory,
    cpuMicros: after.cpuMicros - before.cpuMicros,
    seconds: (after.at - before.at) / 1000,
    calls: changes('calls'),
    usec: changes('usec'),
    nodes,
  }
}
