import type { Problem } from '../errors/problem.js'
import type { AuthFailureLog } from '../ratelimit/auth-failures.js'
import type { GatewayContext } from './context.js'
import type { PipelineDeps } from './pipeline.js'
import { refuseCredentialAttempt } from './steps/auth-failure-throttle.js'
import { settleNonce } from './steps/claim-nonce.js'

/**
 * What a refusal of a runtime request costs, whether it goes out as an HTTP response (adapter.ts) or
 * as a WebSocket's error frame (frame-handshake.ts). Before authentication, a 401 is a failed
 * authentication and counts against the client address (before the answer leaves, so the next
 * request meets the count). After it, the nonce is recorded first (the one nonce rule), once.
 */
export function settleRefusal(ctx: GatewayContext | undefined, deps: PipelineDeps, problem: Problem, log: AuthFailureLog): Problem | Promise<Problem> {
  if (ctx === undefined) return problem
  if (!ctx.authenticated) return problem.status === 401 ? refuseCredentialAttempt(ctx, deps, problem, log) : problem
  return settleNonce(ctx, deps, problem)
}
