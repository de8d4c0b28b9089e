import { startRedisCluster, type RedisCluster } from '../test/helpers/redis-cluster.js'
import type { Fleet } from './fleet.js'
import { provision, type RunningGateway } from './gateway.js'
import type { BenchOptions } from './options.js'
import { peakRssKiB, sleep, startRedis, totalCpuMicros } from './processes.js'
import { RedisStats, delta } from './redis-stats.js'
import { SAFETY_CHECK_INTERVAL_SECONDS, acceptedMessages, safetyCheckWork, type BenchResults, type ClusterIdleRow, type ClusterRow } from './results.js'
import { Scenarios, type Target } from './scenarios.js'
import type { AuthMode, BenchCredentials } from './signer.js'

/**
 * The cluster section (issue 12): what one accepted message costs the gateway and Redis when the data
 * is spread over a 3-master Redis Cluster, beside the same load on one standalone Redis, with 1, 2 and
 * 3 gateway processes. Recipients are chosen so that each master holds the inboxes of as many of them
 * (and, with them, the nonces and idempotency records of their messages: keys.ts), and every run sends
 * to them in turn. The two backends alternate run by run, so a drift of the shared machine shows in
 * both rather than between them.
 */
const MASTERS = 3
const RECIPIENTS_PER_MASTER = 4
const MAX_GATEWAYS = 3
/**
 * Redis's default cluster-node-timeout, not the tests' 2 s: no node is killed here, and on a loaded
 * two-core machine a master stalled for 2 s would be flagged failing and (with no replica to promote)
 * take the cluster down mid-run.
 */
const NODE_TIMEOUT_MS = 15_000
/** Redis alone: long enough for its once-a-second and ten-times-a-second crons to average out. */
const ALONE_SECONDS = 10
/** Idle gateways: two rounds of each one's replay-safety check. */
const IDLE_SECONDS = 2 * SAFETY_CHECK_INTERVAL_SECONDS

type ClusterServer = ClusterRow['server']

interface Backend {
  server: ClusterServer
  url: string
  stats: RedisStats
  gateways: RunningGateway[]
  credentials: Record<AuthMode, BenchCredentials> | undefined
}

export async function clusterSection(options: BenchOptions, results: BenchResults, fleet: Fleet): Promise<void> {
  const scenarios = new Scenarios(options, results.notes)
  const backends: Backend[] = []
  let cluster: RedisCluster | undefined
  try {
    const standalone = await startRedis()
    fleet.adopt(standalone.child, 'redis-server (cluster section, standalone)')
    results.machine.redis ??= standalone.version
    console.log(`bench: starting a ${MASTERS}-master Redis Cluster`)
    cluster = await startRedisCluster({ masters: MASTERS, replicasPerMaster: 0, nodeTimeoutMs: NODE_TIMEOUT_MS })
    const clusterStats = await RedisStats.cluster(cluster.nodes[0]?.port as number)
    backends.push(
      { server: 'redis-spread', url: standalone.url, stats: RedisStats.standalone(standalone.url), gateways: [], credentials: undefined },
      { server: 'redis-cluster', url: cluster.url, stats: clusterStats, gateways: [], credentials: undefined },
    )
    const recipients = spreadRecipients(clusterStats)
    console.log(`bench: ${recipients.length} recipients, ${RECIPIENTS_PER_MASTER} per master`)
    console.log(`bench: both backends without a gateway for ${ALONE_SECONDS} s`)
    results.clusterIdle.push(...await idleBackground(backends, ALONE_SECONDS))

    for (let n = 1; n <= MAX_GATEWAYS; n++) {
      for (const backend of backends) {
        const gateway = await fleet.start({ label: `gateway-${backend.server}-${n}`, redisUrl: backend.url, metrics: 'on' })
        backend.gateways.push(gateway)
        backend.credentials ??= await provision(gateway, recipients)
        await scenarios.smoke(targetOf(backend, recipients))
      }
      for (const mode of options.modes) {
        for (const backend of backends) results.cluster.push(await measure(scenarios, backend, recipients, mode, options.connections))
      }
    }
    // One request in flight per gateway: every command travels alone, as it does on a large
    // deployment where each gateway-to-master connection carries a small share of the traffic.
    for (const mode of options.modes) {
      for (const backend of backends) results.cluster.push(await measure(scenarios, backend, recipients, mode, backend.gateways.length))
    }
    console.log(`bench: both backends with their gateways idle for ${IDLE_SECONDS} s`)
    results.clusterIdle.push(...await idleBackground(backends, IDLE_SECONDS))
  } finally {
    // The stats connections first: once their Redis is stopped they would keep reconnecting, and say so.
    for (const backend of backends) await backend.stats.close()
    await fleet.stopAll()
    if (cluster !== undefined) {
      for (const node of cluster.nodes) {
        results.processes.push({ label: `redis-cluster-${node.port}`, role: `redis-server (cluster ${node.role})`, metrics: '-', peakRssKiB: peakRssKiB(node.pid) })
      }
      await cluster.stop()
    }
  }
}

async function measure(scenarios: Scenarios, backend: Backend, recipients: readonly string[], mode: AuthMode, connections: number): Promise<ClusterRow> {
  const n = backend.gateways.length
  console.log(`bench: ${mode}, ${n} gateway process(es), ${connections} connections, ${backend.server === 'redis-cluster' ? `${MASTERS}-master Redis Cluster` : 'one Redis'}`)
  const row = await scenarios.ceiling(targetOf(backend, recipients), mode, connections)
  const clusterRow: ClusterRow = { ...row, server: backend.server, gateways: n, connections, masters: backend.stats.masters, recipients: recipients.length }
  console.log(`    ${summary(clusterRow)}`)
  return clusterRow
}

/** Redis counters and gateway CPU of every backend over the same `seconds` without a single request. */
async function idleBackground(backends: readonly Backend[], seconds: number): Promise<ClusterIdleRow[]> {
  const before = await Promise.all(backends.map(async (b) => ({ redis: await b.stats.snapshot(), cpu: totalCpuMicros(b.gateways.map((g) => g.child)) })))
  await sleep(seconds * 1000)
  return Promise.all(backends.map(async (backend, i): Promise<ClusterIdleRow> => {
    const cpu = totalCpuMicros(backend.gateways.map((g) => g.child))
    const was = before[i] as (typeof before)[number]
    const d = delta(was.redis, await backend.stats.snapshot())
    const masters = backend.stats.masters
    const row: ClusterIdleRow = {
      server: backend.server, gateways: backend.gateways.length, masters, seconds: d.seconds,
      rounds: safetyCheckWork(d).calls / masters,
      redisCpuMicros: d.cpuMicros,
      gatewayCpuMicros: cpu === undefined || was.cpu === undefined ? undefined : cpu - was.cpu,
      commands: d.commands,
      reads: d.reads,
    }
    console.log(`    ${backend.server}, ${row.gateways} gateways: ${row.rounds.toFixed(1)} safety-check rounds; Redis CPU ${(row.redisCpuMicros / 1000).toFixed(1)} ms, ${row.commands} commands in ${row.seconds.toFixed(1)} s`)
    return row
  }))
}

/** `bench-to-<i>` for the first i that fill every master with RECIPIENTS_PER_MASTER recipients. */
function spreadRecipients(stats: RedisStats): string[] {
  const perNode = new Map<string, number>()
  const chosen: string[] = []
  for (let i = 0; chosen.length < MASTERS * RECIPIENTS_PER_MASTER; i++) {
    if (i > 10_000) throw new Error(`could not spread recipients over ${MASTERS} masters`)
    const name = `bench-to-${i}`
    const node = stats.nodeOf(name)
    const count = perNode.get(node) ?? 0
    if (count >= RECIPIENTS_PER_MASTER) continue
    perNode.set(node, count + 1)
    chosen.push(name)
  }
  return chosen
}

function targetOf(backend: Backend, recipients: readonly string[]): Target {
  if (backend.credentials === undefined) throw new Error(`expected ${backend.server} to be provisioned`)
  return {
    server: backend.server,
    urls: backend.gateways.map((g) => g.url),
    credentials: backend.credentials,
    recipients,
    cycles: false,
    stats: backend.stats,
    children: backend.gateways.map((g) => g.child),
  }
}

function summary(row: ClusterRow): string {
  const accepted = acceptedMessages(row)
  const per = (n: number | undefined, digits = 3): string => (n === undefined || accepted === 0 ? '-' : (n / accepted).toFixed(digits))
  const redis = row.redis
  const rounds = redis === undefined ? 0 : safetyCheckWork(redis).calls / row.masters
  return `gateway CPU ${row.cpuMicrosPerOk?.toFixed(1) ?? '-'} µs, Redis CPU ${per(redis?.cpuMicros, 1)} µs (${rounds.toFixed(1)} safety-check rounds in the run), `
    + `${per(redis?.calls.evalsha)} EVALSHA, ${per(redis?.reads)} round trips, ${per(redis?.commands, 2)} commands per accepted message`
}
