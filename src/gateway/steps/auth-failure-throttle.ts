import type { AuthFailureGuard } from '../../ratelimit/auth-failures.js'
import { rateLimited } from '../../ratelimit/refusal.js'
import type { GatewayContext, StepResult } from '../context.js'

/**
 * a client address that made too many failed authentications (MECHA_AUTH_FAILURE_LIMIT per
 * MECHA_AUTH_FAILURE_WINDOW_SECONDS) is refused before anything else, a valid credential included, so
 * guessing gets no key lookup and no token comparison. No I/O: the guard answers from what this
 * process knows (see AuthFailureGuard); the failures themselves are counted where the 401 is sent.
 */
export function checkAuthFailureThrottle(ctx: GatewayContext, deps: { authFailures: AuthFailureGuard }): StepResult {
  const retryAfter = deps.authFailures.throttledFor(ctx.request.clientAddress, ctx.now)
  if (retryAfter === undefined) return undefined
  return rateLimited(retryAfter, `too many failed authentications from this address; retry after ${retryAfter} s`)
}
