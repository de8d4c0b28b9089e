import { verifyContentDigest } from '../../crypto/verify-signature.js'
import { Problem } from '../../errors/problem.js'
import { required, type GatewayContext, type StepResult } from '../context.js'

/**
 * Content-Digest (RFC 9530) on every runtime request that sends it, token-only or signed: the rule
 * is `verifyContentDigest`. Needs the raw body, so it runs with the credential steps (preValidation).
 *
 * It runs BEFORE verifySignature, which relies on it: a signature covers the body only through the
 * `content-digest` line of its base, so a signature is not verified until the field matches the
 * bytes; in this order `ctx.verifiedBy` never names a signature whose body is unchecked. A token was
 * verified in the header steps already. The cost for an unauthenticated request is one hash of a body
 * the server has read anyway (bounded by the body limit), as when verifySignature held this check.
 */
export function checkContentDigest(ctx: GatewayContext): StepResult {
  const { signature } = required(ctx.credentials, 'credentials')
  const { body } = ctx.request
  const header = ctx.request.header('content-digest')
  const requireSha256 = signature !== undefined && body !== undefined && body.byteLength > 0
  if (header !== undefined || requireSha256) {
    const verdict = verifyContentDigest(header, body, { requireSha256 })
    if (!verdict.ok) return new Problem(verdict.reason, verdict.detail)
  }
  ctx.contentDigestChecked = true
  return undefined
}
