import { SERVER_NAMES, fixed, int, ms, others } from './format.js'
import {
  SAFETY_CHECK_INTERVAL_SECONDS, acceptedMessages, redisBackground, redisCpuForAccepts, safetyCheckWork,
  type BenchResults, type ClusterIdleRow, type ClusterRow,
} from './results.js'

/**
 * The cluster section of the generated report (bench/cluster.ts): per accepted message, gateway and
 * Redis CPU and Redis work, on a Redis Cluster and on one standalone Redis; then the background work
 * that does not scale with messages, which the per-message figures are net of.
 */
export function renderCluster(r: BenchResults, out: string[]): void {
  const first = r.cluster[0]
  if (first === undefined) {
    out.push('Not run (opt-in: BENCH_SECTIONS=cluster).', '')
    return
  }
  const masters = r.cluster.find((row) => row.server === 'redis-cluster')?.masters ?? '-'
  out.push(
    `${r.options.connections} connections spread over the gateway processes (the last runs: one per gateway, so no command`,
    `shares a round trip), messages sent in turn to ${first.recipients} recipients whose inboxes are spread evenly over the ${masters}`,
    'masters; the same on one standalone Redis, the two alternating run by run. Per',
    "accepted message (Redis's count), except gateway CPU: user + system of all gateway processes per 2xx response.",
    'Redis CPU is `used_cpu_sys + used_cpu_user` summed over the masters: "all" as measured, "accepts" without the',
    "background measured on the idle backend (the servers' own periodic work per second, and each replay-safety round",
    'that fell in the run: tables below). Round trips are `total_reads_processed`, commands `total_commands_processed`,',
    "summed over the masters. Everything shares this machine's cores: load generator, gateways and every Redis.", '',
  )
  perMessage(r, out)
  perCore(r, out)
  background(r, out)
  perMaster(r, out)
  byName(r, out)
}

function perMessage(r: BenchResults, out: string[]): void {
  out.push(
    '| Mode | Redis | Gateways | Connections | 2xx req/s | p99 ms | Gateway CPU µs / 2xx | Redis CPU µs / msg, all | Redis CPU µs / msg, accepts | Round trips / msg | EVALSHA / msg | Commands / msg | without the safety check\'s | Other responses |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  )
  for (const row of r.cluster) {
    const d = row.redis
    const per = perAccepted(row)
    const checkCommands = d === undefined ? undefined : d.commands - safetyCheckWork(d).commands
    out.push(`| ${row.mode} | ${redisName(row)} | ${row.gateways} | ${row.connections} | ${int(row.load.okPerSecond)} | ${ms(row.load.latencyMs, 'p99')} | ${fixed(row.cpuMicrosPerOk, 1)} `
      + `| ${per(d?.cpuMicros, 1)} | ${per(redisCpuForAccepts(row, r.clusterIdle), 1)} | ${per(d?.reads, 3)} | ${per(d?.calls.evalsha, 3)} `
      + `| ${per(d?.commands, 2)} | ${per(checkCommands, 2)} | ${others(row)} |`)
  }
  out.push('')
}

function perCore(r: BenchResults, out: string[]): void {
  out.push('At 100 % of one core, from the CPU figures above (Redis: accepts only; a master runs commands on one thread):', '',
    '| Mode | Redis | Gateways | Connections | Accepted msg/s per Redis core | Accepted msg/s per gateway core |', '|---|---|---:|---:|---:|---:|')
  for (const row of r.cluster) {
    const redisCpu = redisCpuForAccepts(row, r.clusterIdle)
    out.push(`| ${row.mode} | ${redisName(row)} | ${row.gateways} | ${row.connections} | ${capacity(redisCpu === undefined ? undefined : redisCpu / Math.max(1, acceptedMessages(row)))} | ${capacity(row.cpuMicrosPerOk)} |`)
  }
  out.push('')
}

function background(r: BenchResults, out: string[]): void {
  out.push(
    'Background, with no request at all: Redis alone, then with the gateways of the last runs idle. Every gateway runs',
    `the replay-safety check every ${SAFETY_CHECK_INTERVAL_SECONDS} s whatever the traffic, one EVAL per master per round; on a cluster it reads the`,
    "epoch and run id of every slot the master serves (2 x 16,384 GETs per round). A round's EVAL holds its master for",
    'the whole script. The cost per round below counts everything the idle gateways add to Redis (their connections',
    "too) as their rounds': an upper bound.", '',
    '| Redis | Gateways | Seconds | Rounds | Redis CPU ms/s | Commands/s | Gateway CPU ms/s per gateway |', '|---|---:|---:|---:|---:|---:|---:|',
  )
  for (const idle of r.clusterIdle) {
    const perSecond = (n: number): string => (n / idle.seconds).toFixed(1)
    const gateway = idle.gateways === 0 || idle.gatewayCpuMicros === undefined ? '-' : (idle.gatewayCpuMicros / 1000 / idle.gateways / idle.seconds).toFixed(1)
    out.push(`| ${redisName(idle)} | ${idle.gateways} | ${idle.seconds.toFixed(1)} | ${idle.rounds.toFixed(1)} | ${perSecond(idle.redisCpuMicros / 1000)} | ${perSecond(idle.commands)} | ${gateway} |`)
  }
  out.push('')
  for (const server of ['redis-spread', 'redis-cluster'] as const) {
    const b = redisBackground(server, r.clusterIdle)
    const idle = r.clusterIdle.find((i) => i.server === server)
    if (b === undefined || idle === undefined) continue
    const round = b.microsPerRound === undefined ? 'no round seen' : `${(b.microsPerRound / 1000).toFixed(1)} ms of Redis CPU per round, i.e. ${(b.microsPerRound / 1000 / SAFETY_CHECK_INTERVAL_SECONDS).toFixed(2)} ms/s per gateway`
    out.push(`- ${redisName(idle)}: ${(b.microsPerSecond / 1000 / idle.masters).toFixed(2)} ms/s of Redis CPU per master with no gateway; ${round}.`)
  }
  out.push('', '| Mode | Redis | Gateways | Connections | Rounds in the run | EVAL ms per call, mean (wall: includes time descheduled) | Commands per round |', '|---|---|---:|---:|---:|---:|---:|')
  for (const row of r.cluster) {
    if (row.redis === undefined) continue
    const check = safetyCheckWork(row.redis)
    const rounds = check.calls / row.masters
    out.push(`| ${row.mode} | ${redisName(row)} | ${row.gateways} | ${row.connections} | ${rounds.toFixed(1)} | ${check.calls === 0 ? '-' : (check.micros / check.calls / 1000).toFixed(1)} | ${rounds === 0 ? '-' : int(check.commands / rounds)} |`)
  }
  out.push('')
}

function perMaster(r: BenchResults, out: string[]): void {
  out.push('How the work spread over the masters (share of the EVALSHA calls; Redis CPU per accepted message, all):', '', '| Mode | Gateways | Connections | Per master |', '|---|---:|---:|---|')
  for (const row of r.cluster) {
    const d = row.redis
    if (row.server !== 'redis-cluster' || d === undefined) continue
    const total = Math.max(1, d.nodes.reduce((n, node) => n + node.evalsha, 0))
    const accepted = Math.max(1, acceptedMessages(row))
    out.push(`| ${row.mode} | ${row.gateways} | ${row.connections} | ${d.nodes.map((n) => `${n.address}: ${((100 * n.evalsha) / total).toFixed(1)} %, ${(n.cpuMicros / accepted).toFixed(1)} µs`).join('; ')} |`)
  }
  out.push('')
}

function byName(r: BenchResults, out: string[]): void {
  out.push('Commands by name per accepted message (those scripts run included):', '', '| Mode | Redis | Gateways | Connections | Commands / msg, by name |', '|---|---|---:|---:|---|')
  for (const row of r.cluster) {
    const d = row.redis
    if (d === undefined) continue
    const accepted = Math.max(1, acceptedMessages(row))
    const names = Object.entries(d.calls).sort(([, a], [, b]) => b - a).map(([name, n]) => `${name} ${(n / accepted).toFixed(3)}`).join(', ')
    out.push(`| ${row.mode} | ${redisName(row)} | ${row.gateways} | ${row.connections} | ${names || '-'} |`)
  }
  out.push('')
}

function redisName(row: Pick<ClusterRow | ClusterIdleRow, 'server' | 'masters'>): string {
  return row.server === 'redis-cluster' ? `${SERVER_NAMES[row.server]}, ${row.masters} masters` : SERVER_NAMES[row.server]
}

function perAccepted(row: ClusterRow): (n: number | undefined, digits: number) => string {
  const accepted = acceptedMessages(row)
  return (n, digits) => (n === undefined || accepted === 0 ? '-' : (n / accepted).toFixed(digits))
}

/** Messages per second one core at 100 % would take, at this CPU cost per message. */
function capacity(cpuMicrosPerMessage: number | undefined): string {
  return cpuMicrosPerMessage === undefined || cpuMicrosPerMessage <= 0 ? '-' : int(1e6 / cpuMicrosPerMessage)
}
