import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { join, resolve } from 'node:path'
import { Fleet, type FleetRecords } from './fleet.js'
import { PUBLIC_AUTHORITY, RECIPIENT, provision, type RunningGateway } from './gateway.js'
import { drive, type LoadResult } from './load.js'
import { benchOptions } from './options.js'
import { killAllChildren, startRedis, totalCpuMicros, type BenchChild } from './processes.js'
import { RedisStats } from './redis-stats.js'
import { Scenarios, type Target } from './scenarios.js'
import { RequestPool, RequestSigner, referenceBody, type BenchCredentials } from './signer.js'

/**
 * `node dist-bench/bench/ab.js`: server CPU per 2xx bearer message of two builds of the service, each
 * one gateway process on its own standalone Redis, both running at once, driven in alternating short
 * bursts, each round swapping which goes first (AB BA AB ...). On a shared machine whose speed drifts
 * by 2x between whole bench runs, two bursts seconds apart see nearly the same machine, so the ratio
 * within a round is what to read; its median over the rounds, with the spread, is the result.
 *
 * AB_BEFORE (required): the directory of the other build (its dist/main.js), e.g. a worktree of an
 * older commit built with `npm run build`. AB_ROUNDS (default 16), AB_SECONDS per burst (3),
 * AB_CONNECTIONS (50), AB_RUNS (1): how many times to start both gateways (and their Redis servers)
 * afresh, the side started first alternating. Each process has a speed of its own for its whole life
 * (an A/A run, the same build on both sides, gave a median 0.92 with a round-level interval of
 * 0.87-0.97), so the rounds of one run are not independent samples of the builds' difference: with
 * several runs the interval is bootstrapped over runs, then rounds within them. AB_PROFILE=1 runs both gateways under `node --cpu-prof`, writing their profiles
 * into profiles/ when they stop (read them with `npm run bench:profile`); the CPU per request it
 * reports is then the profiled processes', so compare profiles with each other, not with other runs.
 */
interface AbOptions {
  readonly before: string
  readonly rounds: number
  readonly seconds: number
  readonly connections: number
  readonly profile: boolean
  readonly runs: number
}

interface Burst {
  run: number
  round: number
  side: 'before' | 'after'
  loadAverage: number
  okPerSecond: number
  cpuMicrosPerOk: number
  /** The side's redis-server's CPU per 2xx (not in the ratio: the gateway's is what is compared). */
  redisCpuMicrosPerOk: number
  ranOut: boolean
}

const RESULTS_JSON = 'dist-bench/ab.json'
const PROFILE_DIR = 'profiles'
/** Pool per burst: the side's last rate x duration x this, so a faster burst does not run dry. */
const POOL_HEADROOM = 3
const FIRST_POOL = 30_000

function abOptions(env: Readonly<Record<string, string | undefined>>): AbOptions {
  const problems: string[] = []
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]?.trim()
    if (raw === undefined || raw === '') return fallback
    const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
    if (!Number.isSafeInteger(n) || n < min || n > max) problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`)
    return n
  }
  const before = env.AB_BEFORE?.trim() ?? ''
  if (before === '') problems.push('AB_BEFORE must name the directory of the other build (holding dist/main.js), got nothing')
  else if (!existsSync(join(before, 'dist', 'main.js'))) problems.push(`AB_BEFORE: expected ${join(before, 'dist', 'main.js')} (run npm run build there), found none`)
  const options = { before: resolve(before), rounds: integer('AB_ROUNDS', 16, 2, 200), seconds: integer('AB_SECONDS', 3, 1, 60), connections: integer('AB_CONNECTIONS', 50, 1, 1000), profile: env.AB_PROFILE === '1',
    runs: integer('AB_RUNS', 1, 1, 50) }
  if (problems.length > 0) throw new Error(`invalid A/B settings:\n  - ${problems.join('\n  - ')}`)
  return Object.freeze(options)
}

async function main(): Promise<void> {
  const options = abOptions(process.env)
  console.log(`ab: ${options.runs} run(s) of ${options.rounds} rounds of ${options.seconds} s bursts at ${options.connections} connections; before = ${options.before}`)
  const bursts: Burst[] = []
  const records: FleetRecords = { processes: [], profiles: [] }
  for (let run = 1; run <= options.runs; run++) {
    // The side started first (and so provisioned and warmed first) alternates from run to run.
    await abRun(options, run, run % 2 === 1 ? ['before', 'after'] : ['after', 'before'], records, bursts)
  }
  report(options, bursts)
  for (const p of records.processes) console.log(`ab: ${p.label} peak RSS ${p.peakRssKiB === undefined ? '-' : `${(p.peakRssKiB / 1024).toFixed(0)} MiB`}`)
  for (const path of records.profiles) console.log(`ab: profile ${path}`)
}

/** One pair of fresh gateways (each on its own fresh Redis), driven for `options.rounds` rounds after a warm-up round. */
async function abRun(options: AbOptions, run: number, startOrder: readonly Burst['side'][], records: FleetRecords, bursts: Burst[]): Promise<void> {
  // The bench's own settings give the smoke test its defaults; nothing else of them applies here.
  const benchSettings = benchOptions({ BENCH_SECTIONS: 'gateway' })
  const fleet = new Fleet(records, options.profile ? PROFILE_DIR : undefined)
  const stats: RedisStats[] = []
  try {
    const started: { side: Burst['side']; gateway: RunningGateway; redis: BenchChild; credentials: BenchCredentials; stats: RedisStats; lastRate: number | undefined }[] = []
    for (const side of startOrder) {
      const redis = await startRedis()
      fleet.adopt(redis.child, `redis-server (${side}, run ${run})`)
      const redisStats = RedisStats.standalone(redis.url)
      stats.push(redisStats)
      const gateway = await fleet.start({ label: `gateway-${side}-run${run}`, redisUrl: redis.url, metrics: 'on', ...(side === 'before' ? { entry: join(options.before, 'dist', 'main.js') } : {}) })
      const credentials = await provision(gateway)
      const target: Target = { server: 'redis', urls: [gateway.url], credentials, cycles: false, children: [gateway.child] }
      await new Scenarios(benchSettings, []).smoke(target)
      started.push({ side, gateway, redis: redis.child, credentials: credentials.bearer, stats: redisStats, lastRate: undefined })
    }
    const sides = [...started].sort((x, y) => (x.side === 'before' ? -1 : 1) - (y.side === 'before' ? -1 : 1))
    // Round 0 warms both processes up (JIT, caches) and is not counted.
    for (let round = 0; round <= options.rounds; round++) {
      const order = round % 2 === 1 ? sides : [...sides].reverse()
      for (const s of order) {
        await s.stats.dropInbox(RECIPIENT)
        const size = s.lastRate === undefined ? FIRST_POOL : Math.ceil(s.lastRate * options.seconds * POOL_HEADROOM) + options.connections * 4
        const pool = new RequestPool(new RequestSigner(s.credentials, { method: 'POST', path: '/v1/messages', body: referenceBody(RECIPIENT), authority: PUBLIC_AUTHORITY }), size)
        const loadAverage = os.loadavg()[0] as number
        const before = totalCpuMicros([s.gateway.child])
        const redisBefore = totalCpuMicros([s.redis])
        const load: LoadResult = await drive({ urls: [s.gateway.url], pool, connections: options.connections, seconds: options.seconds })
        const after = totalCpuMicros([s.gateway.child])
        const redisAfter = totalCpuMicros([s.redis])
        if (before === undefined || after === undefined || redisBefore === undefined || redisAfter === undefined || load.ok === 0) throw new Error(`${s.side}: no CPU reading or no 2xx (${JSON.stringify(load.statuses)})`)
        s.lastRate = Math.max(load.okPerSecond, load.lateOkPerSecond)
        if (round === 0) continue
        const burst: Burst = { run, round, side: s.side, loadAverage, okPerSecond: load.okPerSecond, cpuMicrosPerOk: (after - before) / load.ok, redisCpuMicrosPerOk: (redisAfter - redisBefore) / load.ok, ranOut: load.pool.ranOut }
        bursts.push(burst)
        const others = Object.entries(load.statuses).filter(([code]) => code !== '202')
        console.log(`  run ${run} round ${round} ${s.side.padEnd(6)}: ${Math.round(load.okPerSecond)} 2xx/s, ${burst.cpuMicrosPerOk.toFixed(1)} µs CPU per 2xx${others.length > 0 ? `, also ${JSON.stringify(Object.fromEntries(others))}` : ''}${burst.ranOut ? ' (pool ran out)' : ''}`)
      }
    }
  } finally {
    for (const s of stats) await s.close()
    await fleet.stopAll()
  }
}

function report(options: AbOptions, bursts: readonly Burst[]): void {
  const byRun: number[][] = []
  const lines = ['| Run | Round | Load avg | before 2xx/s | before µs / 2xx | after 2xx/s | after µs / 2xx | after / before |', '|---:|---:|---:|---:|---:|---:|---:|---:|']
  for (let run = 1; run <= options.runs; run++) {
    const ratios: number[] = []
    for (let round = 1; round <= options.rounds; round++) {
      const b = bursts.find((x) => x.run === run && x.round === round && x.side === 'before')
      const a = bursts.find((x) => x.run === run && x.round === round && x.side === 'after')
      if (a === undefined || b === undefined) continue
      const ratio = a.cpuMicrosPerOk / b.cpuMicrosPerOk
      ratios.push(ratio)
      lines.push(`| ${run} | ${round} | ${b.loadAverage.toFixed(1)} | ${Math.round(b.okPerSecond)} | ${b.cpuMicrosPerOk.toFixed(1)} | ${Math.round(a.okPerSecond)} | ${a.cpuMicrosPerOk.toFixed(1)} | ${ratio.toFixed(3)} |`)
    }
    if (ratios.length > 0) byRun.push(ratios)
  }
  const ratios = byRun.flat()
  const side = (name: Burst['side']): number[] => bursts.filter((x) => x.side === name).map((x) => x.cpuMicrosPerOk)
  const q = quartiles(ratios)
  console.log(`\n${lines.join('\n')}\n`)
  const ci = bootstrapMedianInterval(byRun)
  const higher = ratios.filter((r) => r > 1).length
  console.log(`ab: after / before, median ${q.median.toFixed(3)} (quartiles ${q.lower.toFixed(3)} to ${q.upper.toFixed(3)}, range ${q.min.toFixed(3)} to ${q.max.toFixed(3)}, ${ratios.length} rounds in ${byRun.length} run(s))`)
  console.log(`ab: 95 % interval of the median (bootstrap${byRun.length > 1 ? ' over runs, then rounds' : ' over rounds: one pair of processes, so it leaves out their own speeds'}) ${ci.lower.toFixed(3)} to ${ci.upper.toFixed(3)}; after higher in ${higher} of ${ratios.length} rounds`)
  byRun.forEach((run, i) => console.log(`ab: run ${i + 1}: median ${quartiles(run).median.toFixed(3)}; ratios in order ${run.map((r) => r.toFixed(2)).join(', ')}`))
  console.log(`ab: median µs CPU per 2xx: before ${quartiles(side('before')).median.toFixed(1)}, after ${quartiles(side('after')).median.toFixed(1)}`)
  const redisSide = (name: Burst['side']): number[] => bursts.filter((x) => x.side === name).map((x) => x.redisCpuMicrosPerOk)
  console.log(`ab: median µs of redis-server CPU per 2xx (not compared): before ${quartiles(redisSide('before')).median.toFixed(1)}, after ${quartiles(redisSide('after')).median.toFixed(1)}`)
  mkdirSync('dist-bench', { recursive: true })
  writeFileSync(RESULTS_JSON, JSON.stringify({ options, date: new Date().toISOString(), bursts, ratio: q, medianInterval95: ci, runMedians: byRun.map((r) => quartiles(r).median) }, null, 2))
  console.log(`ab: raw numbers in ${RESULTS_JSON}`)
}

/**
 * The 95 % interval of the median ratio by the percentile bootstrap, in two stages: draw runs with
 * replacement, then rounds with replacement within each drawn run, and take the median of what was
 * drawn; the 2.5th and 97.5th percentiles of `resamples` such medians. Drawing runs first carries the
 * spread between process pairs into the interval. A fixed-seed generator: the same rounds always give
 * the same interval.
 */
function bootstrapMedianInterval(runs: readonly (readonly number[])[], resamples = 10_000): { lower: number; upper: number } {
  if (runs.length === 0 || runs.some((r) => r.length === 0)) throw new RangeError('expected at least one run, each with at least one value')
  let seed = 0x9e3779b9
  const random = (): number => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const pick = <T>(from: readonly T[]): T => from[Math.floor(random() * from.length)] as T
  const medians: number[] = []
  for (let r = 0; r < resamples; r++) {
    const sample: number[] = []
    for (let i = 0; i < runs.length; i++) {
      const run = runs.length === 1 ? (runs[0] as readonly number[]) : pick(runs)
      for (let j = 0; j < run.length; j++) sample.push(pick(run))
    }
    medians.push(quartiles(sample).median)
  }
  medians.sort((x, y) => x - y)
  return { lower: medians[Math.floor(0.025 * (resamples - 1))] as number, upper: medians[Math.ceil(0.975 * (resamples - 1))] as number }
}

/** Median and quartiles (linear interpolation between closest ranks), min and max. */
function quartiles(values: readonly number[]): { min: number; lower: number; median: number; upper: number; max: number } {
  if (values.length === 0) throw new RangeError('expected at least one value, got none')
  const sorted = [...values].sort((x, y) => x - y)
  const at = (p: number): number => {
    const i = p * (sorted.length - 1)
    const lo = Math.floor(i)
    const hi = Math.ceil(i)
    return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (i - lo)
  }
  return { min: sorted[0] as number, lower: at(0.25), median: at(0.5), upper: at(0.75), max: sorted[sorted.length - 1] as number }
}

try {
  await main()
} catch (err) {
  console.error(`ab: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  killAllChildren()
  process.exit(1)
}
