import type { LoadResult } from './load.js'
import type { MicroResult } from './micro.js'
import type { BenchOptions } from './options.js'
import type { RedisDelta } from './redis-stats.js'
import type { AuthMode } from './signer.js'

/** Everything one bench run measured; report.ts renders it, results.json keeps it raw. */
export type ServerKind = 'bare' | 'prototype' | 'redis' | 'embedded' | 'redis-metrics-off' | 'redis-x2' | 'redis-spread' | 'redis-cluster'

export interface Machine {
  date: string
  cores: number
  cpuModel: string
  memoryGiB: number
  node: string
  redis: string | undefined
  os: string
  commit: string
  loadAverageBefore: readonly number[]
  loadAverageAfter: readonly number[]
}

export interface CeilingRow {
  mode: AuthMode
  server: ServerKind
  load: LoadResult
  /** Redis counters over the measured run (Redis-backed servers only). */
  redis?: RedisDelta
  /** CPU time (user + system) of the server process(es) per 2xx response, µs. Redis's own is not included. */
  cpuMicrosPerOk?: number
}

export interface RateRow {
  mode: AuthMode
  load: LoadResult
}

export interface MemoryRow {
  what: 'message' | 'nonce'
  /** 2xx responses: messages accepted, or nonces claimed. */
  count: number
  usedMemoryBytes: number
}

/** Redis work of idle listeners (bench/idle.ts), net of the gateway's own background work. */
export interface IdleRow {
  longPolls: number
  webSockets: number
  seconds: number
  commandsPerListenerPerMinute: number
  roundTripsPerListenerPerMinute: number
  /** Runs of the READ script (one XAUTOCLAIM each on an idle inbox). */
  inboxReadsPerListenerPerMinute: number
  /** Commands by name over the measured window, all listeners together. */
  calls: Record<string, number>
}

/**
 * One run of the cluster section (bench/cluster.ts): 1 to 3 gateway processes on one standalone Redis
 * (`redis-spread`) or on a 3-master Redis Cluster (`redis-cluster`), messages spread over recipients
 * whose inboxes are on every master.
 */
export interface ClusterRow extends CeilingRow {
  server: 'redis-spread' | 'redis-cluster'
  gateways: number
  /** BENCH_CONNECTIONS, or one per gateway: one request in flight each, so nothing to pipeline. */
  connections: number
  /** Redis servers serving the data: 1 standalone, or the cluster's masters. */
  masters: number
  recipients: number
}

/**
 * Background work on one backend of the cluster section (bench/cluster.ts) with no request at all:
 * with no gateway (the servers' own periodic work: serverCron, the cluster bus), then with the
 * gateways of the last run idle (their timers, and the replay-safety check's rounds).
 */
export interface ClusterIdleRow {
  server: ClusterRow['server']
  /** 0: Redis alone. */
  gateways: number
  masters: number
  /** Measured window (wall time between the snapshots). */
  seconds: number
  /** Replay-safety rounds seen (EVAL calls / masters). */
  rounds: number
  redisCpuMicros: number
  gatewayCpuMicros: number | undefined
  commands: number
  reads: number
}

/** What a backend costs Redis with no traffic, from the idle rows: per second without gateways, and per safety-check round. */
export interface RedisBackground {
  microsPerSecond: number
  /** Undefined without an idle window that saw a round. */
  microsPerRound: number | undefined
}

export function redisBackground(server: ClusterRow['server'], idle: readonly ClusterIdleRow[]): RedisBackground | undefined {
  const alone = idle.find((i) => i.server === server && i.gateways === 0)
  if (alone === undefined || alone.seconds <= 0) return undefined
  const microsPerSecond = alone.redisCpuMicros / alone.seconds
  const withGateways = idle.find((i) => i.server === server && i.gateways > 0 && i.rounds > 0)
  const microsPerRound = withGateways === undefined ? undefined : Math.max(0, withGateways.redisCpuMicros - microsPerSecond * withGateways.seconds) / withGateways.rounds
  return { microsPerSecond, microsPerRound }
}

/**
 * Redis CPU of a cluster-section run that the accepts cost, µs: the run's, less the servers' own
 * background over its length and what each safety-check round in it cost on the idle backend (all
 * that idle gateways add counted as their rounds': an upper bound, so this errs low).
 * commandstats `usec` cannot serve for the rounds: it is wall time, which on a shared machine
 * includes the time the server was descheduled.
 */
export function redisCpuForAccepts(row: ClusterRow, idle: readonly ClusterIdleRow[]): number | undefined {
  const background = redisBackground(row.server, idle)
  if (row.redis === undefined || background?.microsPerRound === undefined) return undefined
  const rounds = safetyCheckWork(row.redis).calls / row.masters
  return row.redis.cpuMicros - background.microsPerSecond * row.redis.seconds - rounds * background.microsPerRound
}

export interface ProcessRow {
  label: string
  /** What the process is: `gateway, Redis`, `redis-server`, ... */
  role: string
  metrics: 'on' | 'off' | '-'
  peakRssKiB: number | undefined
}

export interface BenchResults {
  options: BenchOptions
  machine: Machine
  micro: MicroResult[] | undefined
  ceiling: CeilingRow[]
  rate: RateRow[]
  memory: MemoryRow[]
  idle?: IdleRow
  cluster: ClusterRow[]
  clusterIdle: ClusterIdleRow[]
  processes: ProcessRow[]
  profiles: string[]
  notes: string[]
}

/** Nonces live for 2 x the timestamp window + 60 s (gateway/build.ts); the bench keeps the 300 s default. */
export const NONCE_TTL_SECONDS = 2 * 300 + 60

export function ceilingRow(results: BenchResults, mode: AuthMode, server: ServerKind): CeilingRow | undefined {
  return results.ceiling.find((row) => row.mode === mode && row.server === server)
}

/** Throughput of `server` over the bare server, same mode, same bench run. */
export function ratioToBare(results: BenchResults, mode: AuthMode, server: ServerKind): number | undefined {
  const bare = ceilingRow(results, mode, 'bare')
  const row = ceilingRow(results, mode, server)
  if (bare === undefined || row === undefined || bare.load.okPerSecond === 0) return undefined
  return row.load.okPerSecond / bare.load.okPerSecond
}

/** Script calls (EVALSHA, or EVAL when a script was not cached yet) in a Redis delta. */
export function scriptCalls(delta: RedisDelta): number {
  return (delta.calls.evalsha ?? 0) + (delta.calls.eval ?? 0)
}

/**
 * GETs that did not come from a script. The accept and claim scripts each GET the replay epoch once,
 * so every GET beyond one per script call is a client's: a key or mecha record read from the store.
 */
export function keyLookups(delta: RedisDelta): number {
  return Math.max(0, (delta.calls.get ?? 0) - scriptCalls(delta))
}

/** How often every gateway runs the replay-safety check: the default of src/replay/redis-safety.ts, not configurable. */
export const SAFETY_CHECK_INTERVAL_SECONDS = 10

/**
 * The replay-safety check (src/replay/redis-safety.ts) is the one script the gateway runs with EVAL;
 * accepts run EVALSHA (EVAL only after a NOSCRIPT, which the smoke test's messages have used up). It
 * runs every 10 s in every gateway process whatever the traffic, once per master; on a cluster it reads
 * the epoch and run id of every slot the master serves: 2 x 16,384 GETs per gateway per round.
 */
export interface SafetyCheckWork {
  /** EVAL calls in the run (one per master per round). */
  calls: number
  /** Their execution time in Redis, µs (nested GETs included). */
  micros: number
  /** Commands they ran: the EVALs, and the GETs beyond the one an accept makes (key lookups included, a few). */
  commands: number
}

export function safetyCheckWork(delta: RedisDelta): SafetyCheckWork {
  const calls = delta.calls.eval ?? 0
  return { calls, micros: delta.usec.eval ?? 0, commands: calls + Math.max(0, (delta.calls.get ?? 0) - (delta.calls.evalsha ?? 0)) }
}

/** Messages accepted in a Redis-backed run: Redis's own count when there is one, else the client's 2xx. */
export function acceptedMessages(row: CeilingRow): number {
  return row.redis?.accepted ?? row.load.ok
}

export interface TargetCheck {
  target: string
  measured: string
  met: boolean | undefined
}

const P99_LIMIT_MS = 5

/** The targets, each with what this run measured and whether it is met (undefined: not measured). */
export function checkTargets(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = []
  const ratio = (label: string, mode: AuthMode, server: ServerKind, min: number): void => {
    const value = ratioToBare(results, mode, server)
    checks.push({ target: `${label} >= ${min.toFixed(2)} x bare Fastify`, measured: value === undefined ? 'not run' : value.toFixed(2), met: value === undefined ? undefined : value >= min })
  }
  ratio('Redis-backed gateway, bearer', 'bearer', 'redis', 0.5)
  ratio('Redis-backed gateway, HMAC', 'hmac', 'redis', 0.45)
  ratio('Redis-backed gateway, Ed25519', 'ed25519', 'redis', 0.25)
  ratio('Embedded gateway, bearer', 'bearer', 'embedded', 0.8)

  const rate = results.options.fixedRate
  for (const mode of ['bearer', 'hmac'] as const) {
    const row = results.rate.find((r) => r.mode === mode)
    const label = `p99 <= ${P99_LIMIT_MS} ms at ${rate.toLocaleString('en-US')} req/s, ${mode} (Redis-backed)`
    if (row === undefined || row.load.latencyMs === undefined) {
      checks.push({ target: label, measured: 'not run', met: undefined })
      continue
    }
    const sustained = row.load.okPerSecond >= 0.97 * rate
    const p99 = row.load.latencyMs.p99
    checks.push({
      target: label,
      measured: `${p99.toFixed(2)} ms at ${Math.round(row.load.okPerSecond).toLocaleString('en-US')} req/s${sustained ? '' : ' (rate not sustained)'}`,
      met: sustained && p99 <= P99_LIMIT_MS,
    })
  }

  const clusterRows = results.cluster.filter((row) => row.server === 'redis-cluster' && row.redis !== undefined && acceptedMessages(row) > 0)
  const clusterTarget = 'One script call per accepted message on a Redis Cluster'
  if (clusterRows.length === 0) {
    checks.push({ target: clusterTarget, measured: 'not run', met: undefined })
  } else {
    // EVALSHA only: the EVALs are the replay-safety check, which runs whatever the traffic.
    const scripts = clusterRows.map((row) => ((row.redis as RedisDelta).calls.evalsha ?? 0) / acceptedMessages(row))
    checks.push({
      target: clusterTarget,
      measured: `${Math.min(...scripts).toFixed(3)} to ${Math.max(...scripts).toFixed(3)} EVALSHA per message, summed over the masters (${clusterRows.length} runs)`,
      met: Math.max(...scripts) <= 1.001,
    })
  }

  const redisRows = results.ceiling.filter((row) => row.redis !== undefined && acceptedMessages(row) > 0)
  if (redisRows.length === 0) {
    checks.push({ target: 'One Redis round trip per accepted message', measured: 'not run', met: undefined })
    checks.push({ target: 'No Redis round trip for key lookups in steady state', measured: 'not run', met: undefined })
    return checks
  }
  const perMessage = (row: CeilingRow, n: (d: RedisDelta) => number): number => n(row.redis as RedisDelta) / acceptedMessages(row)
  const scripts = Math.max(...redisRows.map((row) => perMessage(row, scriptCalls)))
  const trips = Math.max(...redisRows.map((row) => perMessage(row, (d) => d.reads)))
  checks.push({
    target: 'One Redis round trip per accepted message',
    measured: `at most ${scripts.toFixed(3)} script calls and ${trips.toFixed(3)} round trips per message (${redisRows.length} runs)`,
    met: scripts <= 1.001 && trips <= 1.001,
  })
  const lookups = redisRows.reduce((sum, row) => sum + keyLookups(row.redis as RedisDelta), 0)
  const accepted = redisRows.reduce((sum, row) => sum + acceptedMessages(row), 0)
  checks.push({
    target: 'No Redis round trip for key lookups in steady state',
    measured: `${lookups} store reads for ${accepted.toLocaleString('en-US')} accepted messages (${((1000 * lookups) / accepted).toFixed(2)} per 1,000)`,
    // Records are cached; the cache's TTL (MECHA_KEY_CACHE_TTL_SECONDS, 30 s) re-reads them now and
    // then. Met when reads are that occasional refresh, not a per-message cost.
    met: lookups <= accepted / 100,
  })
  return checks
}
