import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import type { Config } from '../config/schema.js'
import { sendMetrics, startMetricsListener } from './metrics-listener.js'
import { MetricsRecorder, type RouteRecorder } from './recorder.js'
import type { ReloadStatus } from '../reload/reload-status.js'
import type { DeadLetterEvents } from '../lifecycle/dead-letter-events.js'
import '../route-access.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** process.hrtime.bigint() when the request arrived; cleared once its verification time is recorded. */
    metricsStartedAt?: bigint
  }
}

type Hook = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

/**
 * Prometheus metrics for the whole app. Registered at the root (fastify-plugin) before any route and
 * before the gateway plugin, so its hooks see every route and its onRequest runs first.
 *
 * The hot path is benchmarked, so the per-request work is kept to what prom-client needs: the hooks
 * are synchronous (no promise per hook), and each route's hooks are closures holding that route's
 * labels and counter children, created when the route is registered; nothing reads
 * `request.routeOptions`, which builds a new object on every access.
 */
export const metricsPlugin = fp(async function metricsPlugin(app: FastifyInstance, options: { config: Config; reloads: readonly ReloadStatus[]; deadLetters?: DeadLetterEvents }): Promise<void> {
  const { metrics, host } = options.config
  if (metrics.mode === 'off') return
  const recorder = new MetricsRecorder()
  recorder.reloads(options.reloads)
  const stopCounting = options.deadLetters?.on((deadLetter) => recorder.deadLettered(deadLetter.reason))
  if (stopCounting !== undefined) app.addHook('onClose', async () => { stopCounting() })

  app.decorateRequest('metricsStartedAt', undefined)

  // Verification latency starts here: this root hook runs before the gateway's onRequest steps. It
  // reads the clock for every request: knowing whether the route is a runtime one would cost more.
  app.addHook('onRequest', (request, _reply, done) => {
    request.metricsStartedAt = process.hrtime.bigint()
    done()
  })

  app.addHook('onRoute', (route) => {
    // app.ts's classification hook was added before this one, so the access class is already set.
    const access = route.config?.access ?? 'none'
    const routeRecorder = recorder.route(route.url, access)
    route.onResponse = [...hooksOf(route.onResponse), countResponse(recorder, routeRecorder, access === 'runtime')]
    // Route-level preHandler hooks run after every preValidation hook, where the gateway's
    // credential steps and nonce claim run: reaching this point means authenticated.
    if (access === 'runtime') route.preHandler = [...hooksOf(route.preHandler), verificationAccepted(recorder)]
  })

  // A request no route matched has no route hooks (404s, and anything the not-found context answers).
  const unmatched = recorder.route('unmatched', 'none')
  app.addHook('onResponse', (request, reply, done) => {
    if (request.is404) {
      unmatched.record(request.method, reply.statusCode)
      if (request.refusalReason !== undefined) recorder.refusal(request.refusalReason)
    }
    done()
  })

  if (metrics.mode === 'on') {
    app.get('/metrics', async (_request, reply) => sendMetrics(recorder, reply))
    return
  }

  // mode 'port': see metrics-listener.ts for why the separate listener exists.
  let listener: FastifyInstance | undefined
  app.addHook('onReady', async () => {
    listener = await startMetricsListener(recorder, { host, port: metrics.port, log: app.log.child({ listener: 'metrics' }) })
    app.log.info({ host, port: metrics.port }, 'metrics listening')
  })
  app.addHook('onClose', async () => {
    await listener?.close()
    listener = undefined
  })
}, { name: 'mecharim-metrics' })

function countResponse(recorder: MetricsRecorder, routeRecorder: RouteRecorder, runtime: boolean): Hook {
  return (request, reply, done) => {
    routeRecorder.record(request.method, reply.statusCode)
    const reason = request.refusalReason
    if (reason !== undefined) {
      recorder.refusal(reason)
      // Refused before authentication finished (the preHandler never ran): the time to the refusal.
      if (runtime && request.metricsStartedAt !== undefined) recorder.verification(false, request.metricsStartedAt)
    }
    done()
  }
}

function verificationAccepted(recorder: MetricsRecorder): Hook {
  return (request, _reply, done) => {
    if (request.metricsStartedAt !== undefined) {
      recorder.verification(true, request.metricsStartedAt)
      request.metricsStartedAt = undefined
    }
    done()
  }
}

/**
 * A route's own hooks, to spread into a new array: never push into the route's array, which the
 * implicit HEAD route shares (it copies the options before onRoute runs, then gets its own onRoute).
 */
function hooksOf<T>(hooks: T | readonly T[] | undefined): readonly T[] {
  if (hooks === undefined) return []
  return Array.isArray(hooks) ? hooks : [hooks as T]
}
