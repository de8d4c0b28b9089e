import type { Problem } from '../../errors/problem.js'
import { keyIdentity, throttledRefusal, type AuthFailureGuard, type AuthFailureLog } from '../../ratelimit/auth-failures.js'
import type { GatewayContext, StepResult } from '../context.js'

/**
 * Right after parseCredentials (syntax only, so the key id is known and nothing was looked
 * up yet): admit the attempt against its client address's failed-authentication budget, or refuse it
 * with 429 before any key lookup or comparison. No I/O: the guard counts the attempt in flight at
 * once (see AuthFailureGuard), so concurrent guesses cannot all pass before the first one fails. A
 * key that authenticated from this address in the last 24 hours is still evaluated.
 *
 * The admitted attempt is stored on the context and must be settled: `authenticated` once the
 * credential verified, `refuseCredentialAttempt` for a refusal of the credential steps, and
 * `releaseAuthAttempt` at the end of every request (a no-op once settled).
 */
export function admitAuthAttempt(ctx: GatewayContext, deps: { authFailures: AuthFailureGuard }): StepResult {
  const admitted = deps.authFailures.admit(ctx.request.clientAddress, ctx.credentials && keyIdentity(ctx.credentials.keyId), ctx.now)
  if ('retryAfterSeconds' in admitted) return throttledRefusal(admitted)
  ctx.authAttempt = admitted
  return undefined
}

/** The last credential step: every credential the request presented verified. Remembers the key as known-good here. */
export function authenticated(ctx: GatewayContext): StepResult {
  ctx.authAttempt?.succeeded()
  return undefined
}

/**
 * What to send for a refusal of the header or credential steps, after counting it. A 401 before the
 * credential verified is a failed authentication: counted at once, then in the shared bucket (the
 * promise never rejects). A 401 from parseCredentials came before admission: it is admitted now, so
 * a throttled address gets its 429 rather than another 401. Any other refusal counts nothing.
 */
export async function refuseCredentialAttempt(ctx: GatewayContext, deps: { authFailures: AuthFailureGuard }, problem: Problem, log: AuthFailureLog): Promise<Problem> {
  if (problem.status !== 401) return problem
  if (ctx.authAttempt === undefined) {
    const refused = admitAuthAttempt(ctx, deps)
    if (refused !== undefined) return refused
  }
  await ctx.authAttempt?.failed(log)
  return problem
}

/** The backstop at the end of every request (response sent, or the client gone): frees an unsettled attempt's slot. */
export function releaseAuthAttempt(ctx: GatewayContext | undefined): void {
  ctx?.authAttempt?.release()
}
