import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { clusterSection } from './cluster.js'
import { Fleet } from './fleet.js'
import { provision, startBare, startPrototype } from './gateway.js'
import { idleListeners } from './idle.js'
import { microBenchmark } from './micro.js'
import { benchOptions, type BenchOptions } from './options.js'
import { killAllChildren, startRedis } from './processes.js'
import { RedisStats } from './redis-stats.js'
import { writeReport } from './report.js'
import { checkTargets, type BenchResults, type Machine } from './results.js'
import { Scenarios, type Target } from './scenarios.js'

/**
 * `npm run bench`: one run on one machine. The load generator (autocannon, in this process) drives a
 * bare Fastify server and the gateway (Redis-backed and embedded), each in its own child process, and
 * the results replace the generated part of docs/benchmarks.md. Every child is stopped at the end, and
 * a watchdog ends the whole run if it takes far longer than its settings imply.
 */
const RESULTS_JSON = 'dist-bench/results.json'
const PROFILE_DIR = 'profiles'

async function main(): Promise<void> {
  const options = benchOptions(process.env)
  const watchdog = startWatchdog(budgetSeconds(options))
  const results: BenchResults = {
    options, machine: machine(), micro: undefined, ceiling: [], rate: [], memory: [], cluster: [], clusterIdle: [], processes: [], profiles: [], notes: [],
  }
  console.log(`bench: ${options.seconds} s runs, ${options.warmupSeconds} s warm-up, ${options.connections} connections; sections ${[...options.sections].join(', ')}`)

  if (options.sections.has('micro')) {
    console.log('bench: verification pipeline, in-process')
    results.micro = await microBenchmark(options.microSeconds)
    for (const row of results.micro) console.log(`  ${row.mode}: ${Math.round(row.opsPerSecond)} ops/s, ${row.usPerOp.toFixed(1)} µs/op`)
  }
  if ((['gateway', 'rate', 'scale'] as const).some((s) => options.sections.has(s))) await runServers(options, results)
  if (options.sections.has('cluster')) await clusterSection(options, results, new Fleet(results, options.profile ? PROFILE_DIR : undefined))

  results.machine.loadAverageAfter = os.loadavg()
  writeReport(options.output, results)
  mkdirSync('dist-bench', { recursive: true })
  writeFileSync(RESULTS_JSON, JSON.stringify(results, (_key, value: unknown) => (value instanceof Set ? [...value] : value), 2))
  clearTimeout(watchdog)

  console.log(`\nbench: wrote ${options.output} (raw numbers in ${RESULTS_JSON})\n`)
  for (const check of checkTargets(results)) console.log(`  [${check.met === undefined ? ' - ' : check.met ? ' ok' : 'NO '}] ${check.target}: ${check.measured}`)
  for (const note of results.notes) console.log(`  note: ${note}`)
}

async function runServers(options: BenchOptions, results: BenchResults): Promise<void> {
  const scenarios = new Scenarios(options, results.notes)
  const fleet = new Fleet(results, options.profile ? PROFILE_DIR : undefined)
  const redis = await startRedis()
  fleet.adopt(redis.child, 'redis-server')
  results.machine.redis = redis.version
  const stats = RedisStats.standalone(redis.url)
  try {
    const gateway = await fleet.start({ label: 'gateway-redis', redisUrl: redis.url, metrics: 'on' })
    const credentials = await provision(gateway)
    const redisTarget: Target = { server: 'redis', urls: [gateway.url], credentials, cycles: false, stats, children: [gateway.child] }
    await scenarios.smoke(redisTarget)

    if (options.sections.has('scale')) {
      console.log('bench: Redis memory per message and per nonce')
      results.memory = await scenarios.memory(redisTarget)
      console.log('bench: Redis work of idle listeners (about 90 s)')
      results.idle = await idleListeners(gateway, stats, credentials.bearer)
      const idle = results.idle
      console.log(`  ${idle.commandsPerListenerPerMinute.toFixed(1)} commands, ${idle.inboxReadsPerListenerPerMinute.toFixed(1)} inbox reads per idle listener per minute`)
    }

    if (options.sections.has('gateway')) {
      const bare = await startBare()
      fleet.adopt(bare.child, 'bare Fastify')
      const embedded = await fleet.start({ label: 'gateway-embedded', metrics: 'on' })
      const embeddedTarget: Target = { server: 'embedded', urls: [embedded.url], credentials: await provision(embedded), cycles: false, children: [embedded.child] }
      await scenarios.smoke(embeddedTarget)
      // The bare server ignores credentials; it gets the same headers so it parses the same bytes.
      const bareTarget: Target = { server: 'bare', urls: [bare.url], credentials, cycles: true, children: [bare.child] }
      // The reference: token digest + one Lua script, bearer requests only.
      const prototype = options.modes.includes('bearer') ? await startPrototype(redis.url, credentials.bearer.token) : undefined
      if (prototype !== undefined) fleet.adopt(prototype.child, 'prototype')
      for (const mode of options.modes) {
        console.log(`bench: ${mode} at ${options.connections} connections`)
        results.ceiling.push(await scenarios.ceiling(bareTarget, mode))
        if (mode === 'bearer' && prototype !== undefined) {
          results.ceiling.push(await scenarios.ceiling({ server: 'prototype', urls: [prototype.url], credentials, cycles: false, children: [prototype.child] }, mode))
        }
        results.ceiling.push(await scenarios.ceiling(redisTarget, mode))
        results.ceiling.push(await scenarios.ceiling(embeddedTarget, mode))
      }
      await fleet.stop(embedded)
    }

    if (options.sections.has('gateway') && options.modes.includes('bearer')) {
      const metricsOff = await fleet.start({ label: 'gateway-redis-metrics-off', redisUrl: redis.url, metrics: 'off' })
      const metricsOffTarget: Target = { server: 'redis-metrics-off', urls: [metricsOff.url], credentials, cycles: false, stats, children: [metricsOff.child] }
      await scenarios.smoke(metricsOffTarget)
      console.log('bench: bearer, metrics off')
      results.ceiling.push(await scenarios.ceiling(metricsOffTarget, 'bearer'))
      await fleet.stop(metricsOff)
    }

    if (options.sections.has('rate')) {
      for (const mode of (['bearer', 'hmac'] as const).filter((m) => options.modes.includes(m))) {
        console.log(`bench: ${mode} at a fixed ${options.fixedRate} req/s`)
        results.rate.push(await scenarios.fixedRate(redisTarget, mode))
      }
    }

    if (options.sections.has('scale')) {
      const second = await fleet.start({ label: 'gateway-redis-2', redisUrl: redis.url, metrics: 'on' })
      const twoTarget: Target = { server: 'redis-x2', urls: [gateway.url, second.url], credentials, cycles: false, stats, children: [gateway.child, second.child] }
      await scenarios.smoke(twoTarget)
      for (const mode of options.modes) {
        console.log(`bench: ${mode}, two gateway processes`)
        results.ceiling.push(await scenarios.ceiling(twoTarget, mode))
      }
    }
  } finally {
    // The stats connection first: once its Redis is stopped it would keep reconnecting, and say so.
    await stats.close()
    await fleet.stopAll()
  }
}

function machine(): Machine {
  const cpuinfo = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : ''
  return {
    date: new Date().toISOString(),
    cores: os.availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: os.totalmem() / 1024 ** 3,
    node: process.version,
    redis: undefined,
    os: `${os.type()} ${os.release()}`,
    commit: commit(),
    loadAverageBefore: os.loadavg(),
    loadAverageAfter: [],
  }
}

function commit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !== ''
    return dirty ? `${head} with uncommitted changes` : head
  } catch {
    return 'unknown'
  }
}

/** Generous: twice what the settings imply, plus start-up. */
function budgetSeconds(o: BenchOptions): number {
  const run = o.warmupSeconds + o.seconds + 30
  let total = 120
  if (o.sections.has('micro')) total += 3 * (o.microSeconds + 10)
  if (o.sections.has('gateway')) total += 11 * run
  if (o.sections.has('rate')) total += 2 * run
  if (o.sections.has('scale')) total += 3 * run + 2 * (o.memoryCount / 200 + 30) + 100
  if (o.sections.has('cluster')) total += 2 * 4 * o.modes.length * run + 30 + 120
  return 2 * total
}

function startWatchdog(seconds: number): NodeJS.Timeout {
  return setTimeout(() => {
    console.error(`bench: still running after ${seconds} s, far beyond its settings: stopping every child process`)
    killAllChildren()
    process.exit(2)
  }, seconds * 1000)
}

try {
  await main()
} catch (err) {
  console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
  killAllChildren()
  process.exit(1)
}
