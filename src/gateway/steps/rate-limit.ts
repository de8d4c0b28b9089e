import { rateLimited } from '../../ratelimit/refusal.js'
import type { RateLimiter } from '../../ratelimit/types.js'
import { required, type GatewayContext, type StepResult } from '../context.js'

/**
 * The key's own rate limit (`rate_limit: {requests, per_seconds}`), counted in the bucket
 * `key:<key id>`, shared by every gateway process on Redis. It runs once the credential verified, so
 * unauthenticated traffic cannot spend a runtime's budget, and last before the hand-off, so a limited
 * message stores nothing. A key without a rate limit costs nothing here: no round trip.
 */
export function checkRateLimit(ctx: GatewayContext, deps: { rateLimiter: RateLimiter }): StepResult | Promise<StepResult> {
  const key = required(ctx.key, 'key')
  if (key.rate_limit === null) return undefined
  const { requests, per_seconds: perSeconds } = key.rate_limit
  return deps.rateLimiter.hit(`key:${key.id}`, requests, perSeconds, ctx.now).then((result) => {
    if (result.allowed) return undefined
    return rateLimited(result.retryAfterSeconds, `key ${key.id} allows ${requests} requests per ${perSeconds} s; retry after ${result.retryAfterSeconds} s`)
  })
}
