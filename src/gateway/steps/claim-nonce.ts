import { MECHA_ID_RE } from '../../crypto/id-formats.js'
import { Problem } from '../../errors/problem.js'
import type { ReplayCache } from '../../replay/types.js'
import type { NonceClaim } from '../../transport/types.js'
import { required, type GatewayContext, type StepResult } from '../context.js'
import { staleTimestamp } from './check-timestamp.js'

export interface NonceDeps {
  replayCache: ReplayCache
  /** How long a nonce is remembered: past the window on both sides, plus a margin. */
  nonceTtlSeconds: number
}

/**
 * The one nonce rule: a request whose credential verified records its nonce exactly once, whatever
 * happens after (a 2xx, any 4xx, a 429); a request refused before that records nothing. This step
 * records it on the routes whose hand-off does not (everything but POST /v1/messages, where the
 * transport's accept claims it atomically with the write); the pipeline adapter calls `settleNonce`
 * on every refusal after authentication, so a refused message records its nonce too.
 */
export function claimNonce(ctx: GatewayContext, deps: NonceDeps): StepResult | Promise<StepResult> {
  if (ctx.nonceClaimed) return undefined
  ctx.nonceClaimed = true
  return deps.replayCache.claim(nonceClaim(ctx, deps)).then((result) => {
    if (result.outcome === 'fresh') return undefined
    if (result.outcome === 'replayed') return replayedNonce()
    return beforeEpoch(ctx)
  })
}

/** A refusal after authentication: record the nonce first; a replay is answered as one, whatever else was wrong. */
export function settleNonce(ctx: GatewayContext, deps: NonceDeps, refusal: Problem): Problem | Promise<Problem> {
  if (!ctx.authenticated || ctx.nonceClaimed) return refusal
  const claimed = claimNonce(ctx, deps)
  return claimed instanceof Promise ? claimed.then((p) => p ?? refusal) : (claimed ?? refusal)
}

export function nonceClaim(ctx: GatewayContext, deps: { nonceTtlSeconds: number }): NonceClaim {
  const key = required(ctx.key, 'key')
  return {
    keyId: key.id, nonce: required(ctx.nonce, 'nonce'), target: nonceTarget(ctx) ?? key.mecha, timestamp: required(ctx.timestamp, 'timestamp'),
    ttlSeconds: deps.nonceTtlSeconds, now: ctx.now,
  }
}

/**
 * A message's recipient, when the body names one: a refused message records its nonce where its accept
 * would have (a replay of the same signed request names the same recipient). Else the caller.
 */
function nonceTarget(ctx: GatewayContext): string | undefined {
  if (ctx.route !== 'send') return undefined
  const body = ctx.request.json
  const to = typeof body === 'object' && body !== null ? (body as { to?: unknown }).to : undefined
  return typeof to === 'string' && MECHA_ID_RE.test(to) ? to : undefined
}

export function replayedNonce(): Problem {
  return new Problem('replayed_nonce', 'this nonce was already used with this key; send a fresh one')
}

export function beforeEpoch(ctx: GatewayContext): Problem {
  return staleTimestamp(Math.floor(ctx.now / 1000), 'the request is older than the replay cache\'s memory; sign it again with the current time')
}
