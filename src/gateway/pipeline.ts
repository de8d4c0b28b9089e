import { Problem } from '../errors/problem.js'
import type { AuthFailureGuard } from '../ratelimit/auth-failures.js'
import type { RateLimiter } from '../ratelimit/types.js'
import type { ReplayCache } from '../replay/types.js'
import type { KeyMaterial } from './key-material.js'
import type { RecordCache } from './record-cache.js'
import type { GatewayContext, Step } from './context.js'
import { admitAuthAttempt, authenticated } from './steps/auth-failure-throttle.js'
import { checkTimestamp, staleTimestamp } from './steps/check-timestamp.js'
import { parseCredentials } from './steps/parse-credentials.js'
import { checkRateLimit } from './steps/rate-limit.js'
import { requireSignature } from './steps/require-signature.js'
import { resolveKey } from './steps/resolve-key.js'
import { verifySignature } from './steps/verify-signature.js'
import { verifyToken } from './steps/verify-token.js'
import { checkPermissions, checkRecipient, checkSender, type MessageEnvelope } from './steps/message-checks.js'

export interface GatewayDeps {
  records: RecordCache
  material: KeyMaterial
  replayCache: ReplayCache
  windowSeconds: number
  publicAuthority: string
  /** How long a nonce is remembered: past the window on both sides, plus a margin. */
  nonceTtlSeconds: number
  /** Counts each key's requests against its `rate_limit`. */
  rateLimiter: RateLimiter
  /** Failed authentications per client address; shared with operator authentication. */
  authFailures: AuthFailureGuard
}

/**
 * The order of the checks lives here, and only here. Cheap checks first; nothing is written until
 * the credential has verified, so unauthenticated traffic can neither fill the replay cache nor burn
 * a runtime's nonces nor spend its rate limit. The one thing it does count is its own failure: a 401
 * from the steps below counts against its client address (plugin.ts, where the refusal is sent), and
 * an address over that limit is refused right after parsing, before any lookup.
 *
 * The header steps run in `onRequest`, before the body is read; the credential steps need the raw
 * body (Content-Digest) and run in `preValidation`.
 */
export const HEADER_STEPS: readonly Step<GatewayDeps>[] = [
  parseCredentials,         // syntax: which key, timestamp, nonce (no I/O)
  admitAuthAttempt,         // the client address is within its failed-authentication budget, or the key is known there (no I/O)
  resolveKey,               // key exists, active, not expired, mecha active (cached)
  checkTimestamp,           // within the window
  requireSignature,         // the key's policy demands a signature
  verifyToken,              // constant-time digest compare
]

export const CREDENTIAL_STEPS: readonly Step<GatewayDeps>[] = [
  verifySignature,          // RFC 9421 mecha-v1, Content-Digest over the raw bytes
  authenticated,            // the credential verified: settle the admitted attempt (no I/O)
]

/**
 * Runs the steps in order; the first refusal ends the run. Synchronous while the steps are (the
 * steady state: key records cached), so the hot path allocates no promise; a step that returns a
 * promise (a store read) continues the run when it settles.
 */
export function runSteps(steps: readonly Step<GatewayDeps>[], ctx: GatewayContext, deps: GatewayDeps, from = 0): Problem | undefined | Promise<Problem | undefined> {
  for (let i = from; i < steps.length; i++) {
    const problem = (steps[i] as Step<GatewayDeps>)(ctx, deps)
    if (problem instanceof Promise) return problem.then((p) => p ?? runSteps(steps, ctx, deps, i + 1))
    if (problem !== undefined) return problem
  }
  return undefined
}

/**
 * After the credential, for a message: sender, recipient, permissions, then the key's rate limit
 * (last: it counts, so a message refused for another reason spends no budget). The nonce is claimed
 * by the hand-off, or with the refusal; so, unlike on the other routes, a replayed message has
 * spent one request of its key's budget by the time the hand-off refuses it.
 */
export async function checkMessage(ctx: GatewayContext, message: MessageEnvelope, deps: GatewayDeps): Promise<Problem | undefined> {
  return checkSender(ctx, message) ?? (await checkRecipient(ctx, message, deps)) ?? checkPermissions(ctx, message) ?? (await checkRateLimit(ctx, deps))
}

/**
 * After the credential, on a route whose hand-off does not claim the nonce: the nonce, then the key's
 * rate limit. In this order a replayed request spends no budget, and a limited one still spends its
 * nonce, so it cannot be replayed once the window has passed.
 */
export async function claimNonceAndCount(ctx: GatewayContext, deps: GatewayDeps): Promise<Problem | undefined> {
  return (await claimNonce(ctx, deps)) ?? (await checkRateLimit(ctx, deps))
}

/**
 * Record the request's nonce. Runs for every request whose credential verified, refused or not: a
 * refused request cannot be replayed later, when the state that refused it (a recipient, a
 * permission) may have changed.
 */
export async function claimNonce(ctx: GatewayContext, deps: GatewayDeps): Promise<Problem | undefined> {
  const result = await deps.replayCache.claim(nonceClaim(ctx, deps))
  if (result.outcome === 'fresh') return undefined
  if (result.outcome === 'replayed') return new Problem('replayed_nonce', 'this nonce was already used with this key; send a fresh one')
  return staleTimestamp(Math.floor(ctx.now / 1000), 'the request is older than the replay cache\'s memory; sign it again with the current time')
}

export function nonceClaim(ctx: GatewayContext, deps: GatewayDeps): { keyId: string; nonce: string; timestamp: number; ttlSeconds: number; now: number } {
  if (ctx.key === undefined || ctx.nonce === undefined || ctx.timestamp === undefined) throw new Error('gateway step ordering: nonce claim before authentication')
  return { keyId: ctx.key.id, nonce: ctx.nonce, timestamp: ctx.timestamp, ttlSeconds: deps.nonceTtlSeconds, now: ctx.now }
}
