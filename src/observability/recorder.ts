import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { DeadLetterReason } from '../transport/types.js'
import type { ReloadStatus } from '../reload/reload-status.js'
import type { Reason } from '../errors/catalogue.js'
import type { Dependency } from '../errors/faults.js'

/** Every reason a message is dead-lettered for: each counted from 0. */
const DEAD_LETTER_REASONS: readonly DeadLetterReason[] = ['max_deliveries', 'expired', 'rejected']

/**
 * Verification takes tens of microseconds when the key record is cached and a few milliseconds when
 * it has to be read from the store or the replay cache; the buckets cover 50 µs .. 50 ms with a
 * 1-2.5-5 progression, and one step above for a slow store.
 */
export const VERIFICATION_BUCKETS_SECONDS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1]

/** Refusals that mean a dependency failed, not the client (mirrors the fault mapping in errors/handler.ts). */
const DEPENDENCY_OF: Partial<Record<Reason, Dependency>> = {
  store_unavailable: 'store',
  replay_cache_unavailable: 'replay_cache',
  replay_cache_unsafe: 'replay_cache',
  transport_unavailable: 'transport',
}

const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'] as const

/** The request counter of one route pattern, with its label children created on first use. */
export class RouteRecorder {
  // Indexed by status class (statusCode / 100): the hot path does an array read, not a label hash
  // plus a fresh labels object per request.
  private readonly byMethod = new Map<string, (Counter.Internal | undefined)[]>()

  constructor(
    private readonly requests: Counter<'route' | 'method' | 'status_class' | 'access'>,
    /** The route pattern (`/v1/mechas/:id`), never the requested path: cardinality stays bounded. */
    readonly route: string,
    readonly access: string,
  ) {}

  /** Count one response. `method` is the parsed request method (Node accepts only known methods). */
  record(method: string, statusCode: number): void {
    let children = this.byMethod.get(method)
    if (children === undefined) {
      children = []
      this.byMethod.set(method, children)
    }
    const index = statusCode >= 100 && statusCode < 600 ? Math.trunc(statusCode / 100) : 0
    let child = children[index]
    if (child === undefined) {
      child = this.requests.labels(this.route, method, STATUS_CLASSES[index] as string, this.access)
      children[index] = child
    }
    child.inc()
  }
}

/**
 * The service's metrics in a registry of their own (never prom-client's global one), so that several
 * apps in one process - tests - do not collide. No Fastify here: the plugin only wires hooks to it.
 */
export class MetricsRecorder {
  readonly registry = new Registry()
  private readonly requests: Counter<'route' | 'method' | 'status_class' | 'access'>
  private readonly refusals: Counter<'reason'>
  private readonly refusalsByReason = new Map<Reason, Counter.Internal>()
  private readonly dependencyErrors = new Map<Reason, Counter.Internal>()
  private readonly verificationAccepted: Histogram.Internal<'access' | 'outcome'>
  private readonly verificationRefused: Histogram.Internal<'access' | 'outcome'>
  private readonly deadLetters: Counter<'reason'>

  constructor() {
    const registers = [this.registry]
    this.deadLetters = new Counter({
      name: 'mecharim_dead_lettered_total',
      help: 'Messages moved to a recipient\'s dead letters, by reason: max_deliveries, expired, rejected.',
      labelNames: ['reason'] as const,
      registers,
    })
    for (const reason of DEAD_LETTER_REASONS) this.deadLetters.labels(reason).inc(0)
    this.requests = new Counter({
      name: 'mecharim_http_requests_total',
      help: 'HTTP responses by route pattern (`unmatched` for unknown paths), method, status class and access class.',
      labelNames: ['route', 'method', 'status_class', 'access'] as const,
      registers,
    })
    this.refusals = new Counter({
      name: 'mecharim_refusals_total',
      help: 'Refused requests by catalogue reason.',
      labelNames: ['reason'] as const,
      registers,
    })
    const dependencyErrors = new Counter({
      name: 'mecharim_dependency_errors_total',
      help: 'Requests refused with 503 because a dependency (store, replay cache, transport) failed.',
      labelNames: ['dependency'] as const,
      registers,
    })
    // Created up front so each dependency exports 0 before its first failure (alerts can use rate()).
    for (const [reason, dependency] of Object.entries(DEPENDENCY_OF) as [Reason, Dependency][]) {
      const child = dependencyErrors.labels(dependency)
      child.inc(0)
      this.dependencyErrors.set(reason, child)
    }
    const verification = new Histogram({
      name: 'mecharim_verification_seconds',
      help: 'Gateway verification latency, from the start of the request to the end of authentication or to the refusal.',
      labelNames: ['access', 'outcome'] as const,
      buckets: VERIFICATION_BUCKETS_SECONDS,
      registers,
    })
    this.verificationAccepted = verification.labels('runtime', 'accepted')
    this.verificationRefused = verification.labels('runtime', 'refused')
    // Process metrics into this registry too. prom-client never stops the GC observer and event-loop
    // monitor it starts here: one per app, which is one per process outside tests.
    collectDefaultMetrics({ register: this.registry })
  }

  /**
   * The reload outcome of each file the process re-reads, read at scrape time from the status
   * objects (nothing to update on the reload path). `source` is `operator_tokens` or `tls_certificate`.
   */
  reloads(statuses: readonly ReloadStatus[]): void {
    if (statuses.length === 0) return
    const registers = [this.registry]
    new Counter({
      name: 'mecharim_config_reload_failures_total',
      help: 'Failed reloads of a file the process re-reads (the previous contents stayed in force).',
      labelNames: ['source'] as const,
      registers,
      collect() {
        this.reset()
        for (const status of statuses) this.labels(status.source).inc(status.failures)
      },
    })
    new Gauge({
      name: 'mecharim_config_reload_failing',
      help: '1 while the last reload of the file failed (alert on it), else 0.',
      labelNames: ['source'] as const,
      registers,
      collect() {
        for (const status of statuses) this.labels(status.source).set(status.failing ? 1 : 0)
      },
    })
    new Gauge({
      name: 'mecharim_config_reload_last_success_timestamp_seconds',
      help: 'When the contents in force were loaded (at start or by the last successful reload), in Unix seconds.',
      labelNames: ['source'] as const,
      registers,
      collect() {
        for (const status of statuses) this.labels(status.source).set(status.lastSuccessMs / 1000)
      },
    })
  }

  route(route: string, access: string): RouteRecorder {
    return new RouteRecorder(this.requests, route, access)
  }

  refusal(reason: Reason): void {
    let child = this.refusalsByReason.get(reason)
    if (child === undefined) {
      child = this.refusals.labels(reason)
      this.refusalsByReason.set(reason, child)
    }
    child.inc()
    this.dependencyErrors.get(reason)?.inc()
  }

  deadLettered(reason: DeadLetterReason): void {
    this.deadLetters.labels(reason).inc()
  }

  /** `startedAt` is a process.hrtime.bigint() reading. */
  verification(accepted: boolean, startedAt: bigint): void {
    const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9
    if (accepted) this.verificationAccepted.observe(seconds)
    else this.verificationRefused.observe(seconds)
  }

  /** The exposition text (Prometheus 0.0.4) and its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() }
  }
}
