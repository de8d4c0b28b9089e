import { Redis } from 'ioredis'

/**
 * What one cluster node says: its CLUSTER NODES and INFO replies, parsed, and a way to ask it.
 */

/**
 * One line of CLUSTER NODES (https://redis.io/docs/latest/commands/cluster-nodes/): one node as the
 * node that answered sees it.
 */
export interface NodeView {
  id: string
  host: string
  port: number
  /** myself, master, slave, fail?, fail, handshake, noaddr, nofailover, noflags. */
  flags: readonly string[]
  role: 'master' | 'replica'
  /** The id of the master a replica follows; undefined for a master. */
  masterId: string | undefined
  linkState: 'connected' | 'disconnected'
  /** Served slots as inclusive [from, to] ranges. */
  slots: ReadonlyArray<readonly [number, number]>
  /** Slots this node (only `myself` shows them) is migrating away: `[slot->-destination]`. */
  migrating: readonly number[]
  /** Slots this node is importing: `[slot-<-source]`. */
  importing: readonly number[]
}

/** `<id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot> ...` */
export function parseClusterNodes(text: string): NodeView[] {
  if (typeof text !== 'string') throw new TypeError(`expected the CLUSTER NODES reply as a string, got ${typeof text}`)
  return text.split('\n').map((line) => line.trim()).filter((line) => line !== '').map(parseLine)
}

function parseLine(line: string): NodeView {
  const [id, address, flagList, master, , , , linkState, ...slotFields] = line.split(' ')
  const endpoint = /^(.*):(\d+)@\d+(,.*)?$/.exec(address ?? '')
  if (id === undefined || endpoint === null || flagList === undefined || master === undefined || (linkState !== 'connected' && linkState !== 'disconnected')) {
    throw new Error(`expected a CLUSTER NODES line, got ${JSON.stringify(line)}`)
  }
  const flags = flagList.split(',')
  const slots: Array<readonly [number, number]> = []
  const migrating: number[] = []
  const importing: number[] = []
  for (const field of slotFields) {
    const open = /^\[(\d+)-([<>])-[0-9a-f]+\]$/.exec(field)
    if (open !== null) {
      ;(open[2] === '>' ? migrating : importing).push(Number(open[1]))
      continue
    }
    const range = /^(\d+)(?:-(\d+))?$/.exec(field)
    if (range === null) throw new Error(`expected a slot or slot range, got ${JSON.stringify(field)} in ${JSON.stringify(line)}`)
    slots.push([Number(range[1]), Number(range[2] ?? range[1])])
  }
  return {
    id,
    host: endpoint[1] as string,
    port: Number(endpoint[2]),
    flags,
    role: flags.includes('slave') ? 'replica' : 'master',
    masterId: master === '-' ? undefined : master,
    linkState,
    slots,
    migrating,
    importing,
  }
}

/** The `field:value` lines of an INFO or CLUSTER INFO reply. */
export function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':')
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1)
  }
  return fields
}

/**
 * `fn` on the node at 127.0.0.1:`port`, over a connection of its own that is closed after: a killed
 * or paused node must not leave a client behind that retries or waits. For what a cluster client
 * hides (which node holds a key, a replica's view).
 */
export async function onNode<T>(port: number, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    enableReadyCheck: false,
    connectTimeout: 2000,
    commandTimeout: 5000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
  redis.on('error', () => {})
  try {
    await redis.connect()
    return await fn(redis)
  } finally {
    redis.disconnect()
  }
}

/** One command on the node at 127.0.0.1:`port` (onNode); the error names the command and the node. */
export async function nodeCommand(port: number, name: string, ...args: string[]): Promise<unknown> {
  try {
    return await onNode(port, (redis) => redis.call(name, ...args))
  } catch (err) {
    throw new Error(`${name} ${args.join(' ')} on 127.0.0.1:${port}: ${(err as Error).message}`)
  }
}
