import autocannon from 'autocannon'
import { sleep } from './processes.js'
import type { RequestPool } from './signer.js'

/** Where a connection's requests go once its pool ran out: a 404 that is never counted as served. */
const RAN_OUT_PATH = '/__bench/pool-ran-out'
const REQUEST_TIMEOUT_SECONDS = 10

export interface LoadSpec {
  /** Connections are spread over these round robin (autocannon's own assignment). */
  urls: string[]
  pool: RequestPool
  connections: number
  /** How long each autocannon instance runs. */
  seconds?: number
  /** Send exactly this many requests instead (a known count, for memory deltas). */
  amount?: number
  /**
   * A fixed rate over all connections. autocannon paces each connection with a per-second quota (a
   * burst at the top of every second, then silence), so the rate is split over `groups` instances
   * started 1/groups s apart, whose bursts interleave.
   */
  rate?: { perSecond: number; groups: number }
}

export interface Latency {
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
}

export interface LoadResult {
  /** 2xx responses: what the throughput and the latencies count. */
  ok: number
  statuses: Record<string, number>
  errors: number
  timeouts: number
  /** The measured window, seconds. */
  seconds: number
  okPerSecond: number
  /**
   * The 2xx rate over the second half of a timed run: a fresh process speeds up as it warms, so this
   * is the better estimate of what the next run will need.
   */
  lateOkPerSecond: number
  /** Of 2xx responses, in milliseconds; undefined when there were none. */
  latencyMs: Latency | undefined
  pool: { size: number; used: number; ranOut: boolean; ranOutAfterSeconds?: number }
}

export async function drive(spec: LoadSpec): Promise<LoadResult> {
  if ((spec.seconds === undefined) === (spec.amount === undefined)) throw new TypeError('expected exactly one of seconds and amount')
  const groups = spec.rate?.groups ?? 1
  const latencies = new LatencyLog()
  const statuses = new Map<number, number>()
  const instances: autocannon.Instance[] = []
  const done: Promise<autocannon.Result>[] = []
  const started = performance.now()
  let ranOutAt: number | undefined
  const { shape } = spec.pool
  const halfway = spec.seconds !== undefined ? started + (spec.seconds * 1000) / 2 : Number.POSITIVE_INFINITY
  let lateOk = 0

  const request: autocannon.Request = {
    method: shape.method,
    path: shape.path,
    setupRequest: (req) => {
      const entry = spec.pool.next()
      if (entry === undefined) {
        if (ranOutAt === undefined) {
          ranOutAt = performance.now()
          setImmediate(() => { for (const instance of instances) instance.stop() })
        }
        return { ...req, method: 'GET', path: RAN_OUT_PATH, headers: {}, body: '' }
      }
      req.headers = entry.headers
      if (entry.body !== undefined) req.body = entry.body
      return req
    },
  }

  for (let g = 0; g < groups && ranOutAt === undefined; g++) {
    if (g > 0) await sleep(1000 / groups)
    const instance = autocannon({
      url: spec.urls.length === 1 ? spec.urls[0] as string : spec.urls,
      connections: share(spec.connections, g, groups),
      ...(spec.seconds !== undefined ? { duration: spec.seconds } : {}),
      ...(spec.amount !== undefined ? { amount: share(spec.amount, g, groups) } : {}),
      // Record what each request really took: the correction for coordinated omission adds synthetic
      // samples computed from the per-connection quota, which does not describe these bursts.
      ...(spec.rate !== undefined ? { overallRate: share(spec.rate.perSecond, g, groups), ignoreCoordinatedOmission: true } : {}),
      requests: [request],
      timeout: REQUEST_TIMEOUT_SECONDS,
      skipAggregateResult: true,
    })
    instance.on('response', (_client, status, _bytes, ms) => {
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
      if (status < 200 || status >= 300) return
      latencies.add(ms)
      if (performance.now() >= halfway) lateOk++
    })
    instances.push(instance)
    done.push(new Promise((resolve, reject) => instance.then(resolve, reject)))
  }
  const results = await Promise.all(done)

  const ok = latencies.count
  const meanDuration = results.reduce((sum, r) => sum + r.duration, 0) / results.length
  const seconds = ranOutAt !== undefined ? (ranOutAt - started) / 1000 : meanDuration
  const lateSeconds = (Math.min(ranOutAt ?? Number.POSITIVE_INFINITY, started + meanDuration * 1000) - halfway) / 1000
  return {
    ok,
    statuses: Object.fromEntries([...statuses].sort(([a], [b]) => a - b).map(([code, n]) => [String(code), n])),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    timeouts: results.reduce((sum, r) => sum + r.timeouts, 0),
    seconds,
    okPerSecond: seconds > 0 ? ok / seconds : 0,
    lateOkPerSecond: lateSeconds > 0 ? lateOk / lateSeconds : 0,
    latencyMs: latencies.summary(),
    pool: {
      size: spec.pool.size,
      used: Math.min(spec.pool.used, spec.pool.size),
      ranOut: ranOutAt !== undefined,
      ...(ranOutAt !== undefined ? { ranOutAfterSeconds: (ranOutAt - started) / 1000 } : {}),
    },
  }
}

/** Share `total` over `parts` as evenly as integers allow (part i gets the remainder first). */
function share(total: number, i: number, parts: number): number {
  return Math.floor(total / parts) + (i < total % parts ? 1 : 0)
}

/** Every 2xx latency of a run (a growing Float64Array): exact percentiles, not histogram buckets. */
class LatencyLog {
  #values = new Float64Array(1 << 16)
  count = 0

  add(ms: number): void {
    if (this.count === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2)
      grown.set(this.#values)
      this.#values = grown
    }
    this.#values[this.count++] = ms
  }

  summary(): Latency | undefined {
    if (this.count === 0) return undefined
    const sorted = this.#values.slice(0, this.count).sort()
    const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: sorted[sorted.length - 1] as number }
  }
}
