import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { sendProblem } from '../errors/handler.js'
import { rateLimited } from '../ratelimit/refusal.js'
import type { RateLimiter } from '../ratelimit/types.js'
import { surfaceOf } from '../surfaces.js'
import '../route-access.js'

export interface OpenRateLimitOptions {
  /** The stores' rate limiter (in memory, or shared on Redis). */
  limiter: RateLimiter
  /** MECHA_OPEN_RATE_LIMIT; undefined (`off`) registers nothing. */
  budget: { readonly limit: number; readonly windowSeconds: number } | undefined
}

/**
 * A per-address budget for the open surfaces (src/surfaces.ts, access `open`): nothing authenticates
 * them, so without it one address may keep the event loop busy rendering discovery documents or
 * running MCP requests. Counted in bucket `open:<address>` (Fastify's `request.ip`, so
 * MECHA_TRUST_PROXY decides the address as for the failed-authentication limit) in onRequest, before
 * any body is read. Surfaces marked `probe` (/healthz, /readyz) are never counted.
 *
 * The hook is added only to the routes it applies to, when each is registered: runtime and operator
 * requests pay nothing for it.
 */
export const openRateLimit = fp(async function openRateLimit(app: FastifyInstance, options: OpenRateLimitOptions): Promise<void> {
  const { budget, limiter } = options
  if (budget === undefined) return
  if (typeof limiter?.hit !== 'function') throw new TypeError(`expected a RateLimiter, got ${String(limiter)}`)

  const countOpenRequest: onRequestHookHandler = async (request, reply) => {
    let result
    try {
      result = await limiter.hit(`open:${request.ip}`, budget.limit, budget.windowSeconds, Date.now())
    } catch (err) {
      // Fail open: the open surfaces read no store, and refusing them all because the counter is
      // unreachable would turn a Redis fault into a discovery outage (/readyz reports the fault).
      request.log.warn({ err }, 'open request not counted: rate limiter unavailable')
      return
    }
    if (!result.allowed) {
      await sendProblem(request, reply, rateLimited(result.retryAfterSeconds,
        `this address made more than ${budget.limit} requests to the open surfaces within ${budget.windowSeconds} s`))
    }
  }

  app.addHook('onRoute', (route) => {
    // app.ts's classification hook ran first, so the access class is set.
    if (route.config?.access !== 'open') return
    const method = Array.isArray(route.method) ? route.method[0] : route.method
    if (surfaceOf(method ?? 'GET', route.url)?.probe === true) return
    const own = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest]
    // A new array: the implicit HEAD route shares the GET route's (see observability/metrics.ts).
    route.onRequest = [countOpenRequest, ...own]
  })
}, { name: 'mecharim-open-rate-limit' })
