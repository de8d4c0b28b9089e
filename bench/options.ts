/**
 * The bench's settings, from BENCH_* environment variables: validated once, then frozen. A bad value
 * stops the run before any process starts, with a message naming the variable.
 */
export const SECTIONS = ['micro', 'gateway', 'rate', 'scale', 'cluster'] as const
export type Section = (typeof SECTIONS)[number]
/**
 * What runs when BENCH_SECTIONS is unset. `cluster` is opt-in: it starts a 3-master Redis Cluster
 * (redis-cli too, not only redis-server) and six more gateway processes, and adds minutes to a run.
 */
const DEFAULT_SECTIONS: readonly Section[] = ['micro', 'gateway', 'rate', 'scale']
const MODES = ['bearer', 'hmac', 'ed25519'] as const
type Mode = (typeof MODES)[number]

export interface BenchOptions {
  /** Length of each measured run, in seconds (BENCH_SECONDS); pre-signed timestamps must stay inside the 300 s window. */
  readonly seconds: number
  /** Length of the warm-up before each measured run (BENCH_WARMUP_SECONDS); it also estimates the rate. */
  readonly warmupSeconds: number
  /** Concurrent connections of the ceiling runs (BENCH_CONNECTIONS). */
  readonly connections: number
  /** Requests per second of the fixed-rate runs (BENCH_RATE). */
  readonly fixedRate: number
  /**
   * autocannon paces per connection per second (a burst at the top of every second, then idle). The
   * fixed rate is split over this many autocannon instances started 1/n s apart, so the bursts
   * interleave (BENCH_RATE_GROUPS; 1 = a single plain `overallRate` instance).
   */
  readonly rateGroups: number
  /** Measured time per mode of the in-process pipeline micro-benchmark (BENCH_MICRO_SECONDS). */
  readonly microSeconds: number
  /** Run the gateway children under `node --cpu-prof`, writing profiles/*.cpuprofile (BENCH_PROFILE=1). */
  readonly profile: boolean
  /** Messages (and, separately, nonces) sent to measure Redis memory per item (BENCH_MEMORY_COUNT). */
  readonly memoryCount: number
  /** Upper bound on pre-generated requests per run, whatever the rate estimate says (BENCH_MAX_POOL). */
  readonly maxPool: number
  /** The report to regenerate (BENCH_OUTPUT). */
  readonly output: string
  /** Which parts run (BENCH_SECTIONS, comma-separated; default all but `cluster`); the report marks the others "not run". */
  readonly sections: ReadonlySet<Section>
  /** Which credential modes the server runs drive (BENCH_MODES, comma-separated); the micro-benchmark runs all. */
  readonly modes: readonly Mode[]
  /** Free text printed at the top of the generated report, e.g. "preliminary, shared machine" (BENCH_NOTE). */
  readonly note: string | undefined
}

type Env = Readonly<Record<string, string | undefined>>

export function benchOptions(env: Env): BenchOptions {
  const problems: string[] = []
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]?.trim()
    if (raw === undefined || raw === '') return fallback
    const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`)
      return fallback
    }
    return n
  }
  const flag = (name: string): boolean => {
    const raw = env[name]?.trim() ?? ''
    if (raw === '' || raw === '0') return false
    if (raw === '1') return true
    problems.push(`${name} must be 0 or 1, got ${JSON.stringify(raw)}`)
    return false
  }

  const rawSections = env.BENCH_SECTIONS?.trim()
  const sections = new Set<Section>()
  for (const name of rawSections === undefined || rawSections === '' ? DEFAULT_SECTIONS : rawSections.split(',').map((s) => s.trim())) {
    if ((SECTIONS as readonly string[]).includes(name)) sections.add(name as Section)
    else problems.push(`BENCH_SECTIONS: expected a comma-separated subset of ${SECTIONS.join(', ')}, got ${JSON.stringify(name)}`)
  }

  const rawModes = env.BENCH_MODES?.trim()
  const modes: Mode[] = []
  for (const name of rawModes === undefined || rawModes === '' ? MODES : rawModes.split(',').map((s) => s.trim())) {
    if ((MODES as readonly string[]).includes(name)) {
      if (!modes.includes(name as Mode)) modes.push(name as Mode)
    } else problems.push(`BENCH_MODES: expected a comma-separated subset of ${MODES.join(', ')}, got ${JSON.stringify(name)}`)
  }
  modes.sort((x, y) => MODES.indexOf(x) - MODES.indexOf(y))

  const options: BenchOptions = {
    seconds: integer('BENCH_SECONDS', 10, 1, 240),
    warmupSeconds: integer('BENCH_WARMUP_SECONDS', 3, 1, 60),
    connections: integer('BENCH_CONNECTIONS', 50, 1, 1000),
    fixedRate: integer('BENCH_RATE', 5000, 10, 1_000_000),
    rateGroups: integer('BENCH_RATE_GROUPS', 10, 1, 100),
    microSeconds: integer('BENCH_MICRO_SECONDS', 2, 1, 60),
    profile: flag('BENCH_PROFILE'),
    memoryCount: integer('BENCH_MEMORY_COUNT', 20_000, 1000, 1_000_000),
    maxPool: integer('BENCH_MAX_POOL', 1_500_000, 1000, 20_000_000),
    output: env.BENCH_OUTPUT?.trim() || 'docs/benchmarks.md',
    sections,
    modes,
    note: env.BENCH_NOTE?.trim() || undefined,
  }
  if (options.rateGroups > options.connections) problems.push(`BENCH_RATE_GROUPS (${options.rateGroups}) must not exceed BENCH_CONNECTIONS (${options.connections})`)
  if (problems.length > 0) throw new Error(`invalid bench settings:\n  - ${problems.join('\n  - ')}`)
  return Object.freeze(options)
}
