import type { LoadResult } from './load.js'
import type { MicroResult } from './micro.js'
import type { BenchOptions } from './options.js'
import type { RedisDelta } from './redis-stats.js'
import type { AuthMode } from './signer.js'

/** Everything one bench run measured; report.ts renders it, results.json keeps it raw. */
export type ServerKind = 'bare' | 'prototype' | 'redis' | 'embedded' | 'redis-metrics-off' | 'redis-x2'

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
