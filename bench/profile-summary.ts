import { readFileSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'

/**
 * `npm run bench:profile -- <file.cpuprofile | directory> [--top N]`: the functions a V8 CPU profile
 * (from `node --cpu-prof`, e.g. BENCH_PROFILE=1 npm run bench) spent most self time in, aggregated by
 * function name and script location, so several closures of one function count as one line.
 * With `--stages`, self time is instead attributed to the stage of the request's path it was spent
 * under (the deepest frame on the stack that matches a stage), which is how docs/benchmarks.md reads
 * where a request's time goes.
 */
interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
  columnNumber: number
}

interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

interface Line {
  name: string
  where: string
  selfUs: number
}

/**
 * Stages, first match wins when several frames of one stack match: each sample goes to the deepest
 * frame that matches any stage. Patterns test `<url> <function name>`.
 */
const STAGES: readonly (readonly [string, RegExp])[] = [
  ['Redis client (ioredis: commands, pipelining, replies)', /node_modules\/(ioredis|standard-as-callback|redis-parser|@ioredis)\//],
  ['LMDB (embedded store)', /node_modules\/(lmdb|msgpackr|ordered-binary)\//],
  ['metrics (prom-client, hooks)', /node_modules\/prom-client\/|\/observability\//],
  ['logging (pino)', /node_modules\/(pino|@pinojs|pino-std-serializers)\//],
  ['JSON body parsing', /node_modules\/secure-json-parse\/|content-type-parser/],
  ['schema validation (ajv)', /node_modules\/ajv\/|\/validation\.js /],
  ['gateway steps and crypto', /\/gateway\/(steps|pipeline|record-cache|key-material|request)|\/crypto\/|\/permissions\/|\/ratelimit\/|header-counts/],
  ['route handler and transport', /\/gateway\/routes|\/transport\//],
  ['start-up (module loading, plugin registration, OpenAPI parse)', /avvio|modules\/esm|modules\/cjs|node_modules\/yaml\//],
  ['HTTP and Fastify (parse, route, hooks, reply, socket writes)', /node_modules\/(fastify|find-my-way|light-my-request|@fastify)\/|node:_http|node:net|node:internal\/stream|writev|writeUtf8String|writeBuffer/],
]
const DEFAULT_TOP = 25
/** V8's pseudo-frame for a thread waiting on the event loop; `(program)` and `(garbage collector)` are work. */
const IDLE = '(idle)'

function main(argv: string[]): number {
  let top = DEFAULT_TOP
  let stages = false
  const paths: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--top') {
      top = Number(argv[++i])
      if (!Number.isInteger(top) || top < 1) return usage(`--top expects a positive integer, got ${JSON.stringify(argv[i])}`)
    } else if (arg === '--stages') {
      stages = true
    } else if (arg === '--help' || arg === '-h') {
      return usage()
    } else {
      paths.push(arg)
    }
  }
  if (paths.length === 0) return usage('expected a .cpuprofile file or a directory of them')
  for (const file of paths.flatMap(profilesIn)) {
    if (stages) byStage(file)
    else summarise(file, top)
  }
  return 0
}

function load(file: string): CpuProfile {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples) || !Array.isArray(profile.timeDeltas)) {
    throw new Error(`${file}: expected a V8 .cpuprofile (nodes, samples, timeDeltas)`)
  }
  return profile
}

/** Self time per sampled node id, idle excluded. */
function selfTimes(profile: CpuProfile): Map<number, number> {
  const out = new Map<number, number>()
  let at = profile.startTime
  const times = profile.timeDeltas.map((d) => (at += d))
  for (let i = 0; i < profile.samples.length; i++) {
    const duration = i + 1 < times.length ? (times[i + 1] as number) - (times[i] as number) : profile.endTime - (times[i] as number)
    if (duration > 0) out.set(profile.samples[i] as number, (out.get(profile.samples[i] as number) ?? 0) + duration)
  }
  return out
}

function byStage(file: string): void {
  const profile = load(file)
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const totals = new Map<string, number>()
  let busyUs = 0
  for (const [id, us] of selfTimes(profile)) {
    const name = nodes.get(id)?.callFrame.functionName
    if (name === undefined || name === IDLE) continue
    busyUs += us
    let stage = name === '(garbage collector)' ? 'garbage collection' : name === '(program)' ? '(program): V8 and native work outside JS frames' : undefined
    for (let at: number | undefined = id; stage === undefined && at !== undefined; at = parent.get(at)) {
      const frame = nodes.get(at)?.callFrame
      if (frame === undefined) break
      const text = `${frame.url} ${frame.functionName}`
      stage = STAGES.find(([, pattern]) => pattern.test(text))?.[0]
    }
    stage ??= 'other (Node internals: timers, events, microtasks)'
    totals.set(stage, (totals.get(stage) ?? 0) + us)
  }
  console.log(`\n${file}: ${(busyUs / 1e6).toFixed(1)} s busy, by stage of the request's path`)
  console.log(`${'self ms'.padStart(10)} ${'% busy'.padStart(7)}  stage`)
  for (const [stage, us] of [...totals].sort((a, b) => b[1] - a[1])) {
    console.log(`${(us / 1000).toFixed(1).padStart(10)} ${(busyUs > 0 ? (100 * us) / busyUs : 0).toFixed(1).padStart(6)}%  ${stage}`)
  }
}

function profilesIn(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path]
  return readdirSync(path).filter((name) => name.endsWith('.cpuprofile')).sort().map((name) => join(path, name))
}

function summarise(file: string, top: number): void {
  const profile = load(file)
  const frames = new Map(profile.nodes.map((node) => [node.id, node.callFrame]))
  const lines = new Map<string, Line>()
  let totalUs = 0
  let idleUs = 0
  // Sample i lasts until sample i + 1 (timeDeltas[i + 1]); the last one until endTime.
  let at = profile.startTime
  const times = profile.timeDeltas.map((d) => (at += d))
  for (let i = 0; i < profile.samples.length; i++) {
    const duration = i + 1 < times.length ? (times[i + 1] as number) - (times[i] as number) : profile.endTime - (times[i] as number)
    if (duration <= 0) continue
    const frame = frames.get(profile.samples[i] as number)
    if (frame === undefined) continue
    const name = frame.functionName || '(anonymous)'
    const where = frame.url === '' ? '' : `${shortUrl(frame.url)}:${frame.lineNumber + 1}`
    const key = `${name}\u0000${where}`
    const line = lines.get(key) ?? { name, where, selfUs: 0 }
    line.selfUs += duration
    lines.set(key, line)
    totalUs += duration
    if (name === IDLE) idleUs += duration
  }

  const busyUs = totalUs - idleUs
  console.log(`\n${file}: ${(totalUs / 1e6).toFixed(1)} s sampled, ${(busyUs / 1e6).toFixed(1)} s busy (all but ${IDLE})`)
  console.log(`${'self ms'.padStart(10)} ${'% busy'.padStart(7)}  function (location)`)
  const sorted = [...lines.values()].filter((l) => l.name !== IDLE).sort((a, b) => b.selfUs - a.selfUs).slice(0, top)
  for (const line of sorted) {
    const share = busyUs > 0 ? (100 * line.selfUs) / busyUs : 0
    console.log(`${(line.selfUs / 1000).toFixed(1).padStart(10)} ${share.toFixed(1).padStart(6)}%  ${line.name}${line.where === '' ? '' : ` (${line.where})`}`)
  }
}

/** Paths relative to the working directory, node_modules shortened to the package. */
function shortUrl(url: string): string {
  const path = url.startsWith('file://') ? new URL(url).pathname : url
  const modules = path.lastIndexOf('/node_modules/')
  if (modules !== -1) return path.slice(modules + '/node_modules/'.length)
  return path.startsWith('/') ? relative(process.cwd(), path) : path
}

function usage(problem?: string): number {
  if (problem !== undefined) console.error(`profile-summary: ${problem}`)
  console.error('usage: npm run bench:profile -- <file.cpuprofile | directory> [--top N | --stages]')
  return problem === undefined ? 0 : 2
}

process.exitCode = main(process.argv.slice(2))
