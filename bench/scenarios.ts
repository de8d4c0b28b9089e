import { PUBLIC_AUTHORITY, RECIPIENT } from './gateway.js'
import { drive, type LoadResult, type LoadSpec } from './load.js'
import type { BenchOptions } from './options.js'
import { sleep, totalCpuMicros, type BenchChild } from './processes.js'
import { delta, type RedisDelta, type RedisStats } from './redis-stats.js'
import type { CeilingRow, MemoryRow, RateRow, ServerKind } from './results.js'
import { RequestPool, RequestSigner, referenceBody, type AuthMode, type BenchCredentials, type RequestShape } from './signer.js'

/** Something to drive load at: one server, or several sharing the connections. */
export interface Target {
  server: ServerKind
  urls: string[]
  credentials: Record<AuthMode, BenchCredentials>
  /** The bare server checks nothing, so its pool is reused rather than regenerated at its rate. */
  cycles: boolean
  /** Messages go to these in turn (default: RECIPIENT alone); each must be registered. */
  recipients?: readonly string[]
  /** Read around each measured run at a Redis-backed target. */
  stats?: RedisStats
  /** Their output goes into the error when a run gets no 2xx at all. */
  children: BenchChild[]
}

const messageTo = (recipient: string): RequestShape => ({ method: 'POST', path: '/v1/messages', body: referenceBody(recipient), authority: PUBLIC_AUTHORITY })
const MESSAGE = messageTo(RECIPIENT)
const WHOAMI: RequestShape = { method: 'GET', path: '/v1/whoami', body: undefined, authority: PUBLIC_AUTHORITY }

/** Entries of a cycled pool: enough distinct requests that the client never sends the same bytes twice in a row. */
const CYCLED_POOL = 20_000
/** Warm-up pools assume at most this rate; a warm-up that runs out simply ends early (its rate estimate stays valid). */
const WARMUP_RATE_CAP = 15_000
/** Measured pools hold the warm-up's rate x duration x this, so a run that goes faster than its warm-up does not run dry. */
const POOL_HEADROOM = 2
const MIN_POOL = 1000
/** The least wait for the requests in flight when a run stops to reach Redis; then until script calls stop (RedisStats.settledSnapshot). */
const SETTLE_MS = 500

export class Scenarios {
  readonly #options: BenchOptions
  readonly #notes: string[]

  constructor(options: BenchOptions, notes: string[]) {
    this.#options = options
    this.#notes = notes
  }

  /** One message per mode, URL and recipient, which must be accepted: a bench of 401s measures nothing. */
  async smoke(target: Target): Promise<void> {
    for (const credentials of Object.values(target.credentials)) {
      const pool = new RequestPool(this.#signers(target, credentials.mode), target.urls.length * recipientsOf(target).length)
      for (const url of target.urls) {
        for (let i = 0; i < recipientsOf(target).length; i++) {
          const request = pool.next()
          if (request === undefined) throw new Error('expected one pooled request per URL and recipient')
          const { 'Content-Length': _length, ...headers } = request.headers
          const body = request.body === undefined ? undefined : new Uint8Array(request.body)
          const res = await fetch(`${url}${pool.shape.path}`, { method: pool.shape.method, headers, body, signal: AbortSignal.timeout(10_000) })
          const text = await res.text()
          if (res.status !== 202) {
            throw new Error(`${target.server} at ${url}: a ${credentials.mode} message got ${res.status}, expected 202: ${text}\n${this.#output(target)}`)
          }
        }
      }
    }
  }

  /** Warm up, then measure at the fixed concurrency (BENCH_CONNECTIONS unless given) for BENCH_SECONDS. */
  async ceiling(target: Target, mode: AuthMode, connections = this.#options.connections): Promise<CeilingRow> {
    const { seconds, warmupSeconds, maxPool } = this.#options
    const signers = this.#signers(target, mode)
    const warmSize = target.cycles ? CYCLED_POOL : Math.min(maxPool, WARMUP_RATE_CAP * warmupSeconds)
    const warm = await drive({ urls: target.urls, pool: new RequestPool(signers, warmSize, { cycles: target.cycles }), connections, seconds: warmupSeconds })
    this.#check(target, mode, 'warm-up', warm, false)

    const estimate = Math.max(warm.okPerSecond, warm.lateOkPerSecond)
    const size = target.cycles ? CYCLED_POOL : clamp(Math.ceil(estimate * seconds * POOL_HEADROOM) + connections * 4, MIN_POOL, maxPool)
    const spec: LoadSpec = { urls: target.urls, pool: new RequestPool(signers, size, { cycles: target.cycles }), connections, seconds }
    const { load, redis, cpuMicrosPerOk } = await this.#measure(target, spec)
    this.#check(target, mode, 'ceiling', load, true)
    if (cpuMicrosPerOk !== undefined) console.log(`    server CPU: ${cpuMicrosPerOk.toFixed(1)} µs per 2xx response`)
    return { mode, server: target.server, load, ...(redis !== undefined ? { redis } : {}), ...(cpuMicrosPerOk !== undefined ? { cpuMicrosPerOk } : {}) }
  }

  /** BENCH_RATE requests per second, after a warm-up at the same rate. */
  async fixedRate(target: Target, mode: AuthMode): Promise<RateRow> {
    const { connections, seconds, warmupSeconds, fixedRate, rateGroups, maxPool } = this.#options
    const signers = this.#signers(target, mode)
    const rate = { perSecond: fixedRate, groups: rateGroups }
    // The staggered instances end up to a second apart; the pool covers that too.
    const sized = (s: number): number => clamp(Math.ceil(fixedRate * (s + 2) * 1.1), MIN_POOL, maxPool)
    const warm = await drive({ urls: target.urls, pool: new RequestPool(signers, sized(warmupSeconds)), connections, seconds: warmupSeconds, rate })
    this.#check(target, mode, 'rate warm-up', warm, false)
    const { load } = await this.#measure(target, { urls: target.urls, pool: new RequestPool(signers, sized(seconds)), connections, seconds, rate })
    this.#check(target, mode, `${fixedRate} req/s`, load, true)
    return { mode, load }
  }

  /**
   * Redis memory per accepted message and per nonce: `used_memory` around BENCH_MEMORY_COUNT messages,
   * then as many GET /v1/whoami (which claim a nonce and store nothing else). Runs first, while no
   * nonce of the bench can have expired yet.
   */
  async memory(target: Target): Promise<MemoryRow[]> {
    const stats = target.stats
    if (stats === undefined) throw new TypeError('expected a Redis-backed target for the memory measurement')
    const { connections, memoryCount } = this.#options
    const rows: MemoryRow[] = []
    for (const [what, shape] of [['message', MESSAGE], ['nonce', WHOAMI]] as const) {
      await stats.dropInbox(RECIPIENT)
      const pool = new RequestPool(new RequestSigner(target.credentials.bearer, shape), memoryCount + connections * 2)
      const before = await stats.snapshot()
      const load = await drive({ urls: target.urls, pool, connections, amount: memoryCount })
      const after = await stats.snapshot()
      this.#check(target, 'bearer', `memory per ${what}`, load, true)
      rows.push({ what, count: load.ok, usedMemoryBytes: after.usedMemory - before.usedMemory })
    }
    await stats.dropInbox(RECIPIENT)
    return rows
  }

  /**
   * At a Redis-backed target the inboxes start empty, so their lengths afterwards add up to the messages
   * Redis accepted during the run: the client's 2xx count misses the responses still in flight when
   * autocannon stopped. Those requests are let finish before the counters are read.
   */
  async #measure(target: Target, spec: LoadSpec): Promise<{ load: LoadResult; redis?: RedisDelta; cpuMicrosPerOk?: number }> {
    const stats = target.stats
    if (stats === undefined) {
      const cpuBefore = this.#cpu(target)
      const load = await drive(spec)
      return { load, ...this.#cpuPerOk(target, cpuBefore, load) }
    }
    const recipients = recipientsOf(target)
    for (const recipient of recipients) await stats.dropInbox(recipient)
    const before = await stats.snapshot()
    const cpuBefore = this.#cpu(target)
    const load = await drive(spec)
    const cpu = this.#cpuPerOk(target, cpuBefore, load)
    await sleep(SETTLE_MS)
    const after = await stats.settledSnapshot()
    let accepted = 0
    for (const recipient of recipients) {
      accepted += await stats.inboxLength(recipient)
      await stats.dropInbox(recipient)
    }
    return { load, redis: { ...delta(before, after), accepted }, ...cpu }
  }

  /** One signer per recipient: a pool over them sends to each in turn. */
  #signers(target: Target, mode: AuthMode): RequestSigner[] {
    return recipientsOf(target).map((recipient) => new RequestSigner(target.credentials[mode], messageTo(recipient)))
  }

  /** CPU time of the server process(es) under test: steadier than throughput on a shared 2-core box. */
  #cpu(target: Target): number | undefined {
    return totalCpuMicros(target.children)
  }

  #cpuPerOk(target: Target, before: number | undefined, load: LoadResult): { cpuMicrosPerOk?: number } {
    const after = this.#cpu(target)
    if (before === undefined || after === undefined || load.ok === 0) return {}
    return { cpuMicrosPerOk: (after - before) / load.ok }
  }

  #check(target: Target, mode: AuthMode, what: string, load: LoadResult, measured: boolean): void {
    const label = `${target.server} ${mode} ${what}`
    const latency = load.latencyMs === undefined ? '' : ` p50 ${load.latencyMs.p50.toFixed(2)} ms p99 ${load.latencyMs.p99.toFixed(2)} ms`
    console.log(`  ${label}: ${Math.round(load.okPerSecond)} 2xx/s${latency} (${load.ok} ok, pool ${load.pool.used}/${load.pool.size}, statuses ${JSON.stringify(load.statuses)})`)
    if (load.ok === 0) throw new Error(`${label}: no 2xx response at all (${JSON.stringify(load.statuses)}, ${load.errors} errors)\n${this.#output(target)}`)
    if (!measured) return
    if (load.pool.ranOut) {
      this.#notes.push(`${label}: the pre-generated pool (${load.pool.size} requests) ran out after ${load.pool.ranOutAfterSeconds?.toFixed(1)} s; the run was cut there. Raise BENCH_MAX_POOL if it was the cap.`)
    }
    const failed = Object.entries(load.statuses).filter(([code]) => !code.startsWith('2') && !(load.pool.ranOut && code === '404'))
    if (failed.length > 0 || load.errors > 0 || load.timeouts > 0) {
      this.#notes.push(`${label}: besides ${load.ok} 2xx, ${failed.map(([code, n]) => `${n} x ${code}`).join(', ') || 'no other statuses'}; ${load.errors} connection errors, ${load.timeouts} timeouts.`)
    }
  }

  #output(target: Target): string {
    return target.children.map((child) => `--- ${child.label} output (tail) ---\n${child.output()}`).join('\n')
  }
}

function recipientsOf(target: Target): readonly string[] {
  return target.recipients ?? [RECIPIENT]
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n))
}
