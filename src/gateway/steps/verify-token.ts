import { constantTimeEqual } from '../../crypto/compare.js'
import { sha256 } from '../../crypto/digest.js'
import { Problem } from '../../errors/problem.js'
import type { KeyMaterial } from '../key-material.js'
import { required, type GatewayContext, type StepResult } from '../context.js'

/**
 * Step 5: a presented token's secret matches a live generation of the key. SHA-256 of the presented
 * secret is compared in constant time with every live digest, without stopping at the first match.
 */
export function verifyToken(ctx: GatewayContext, deps: { material: KeyMaterial }): StepResult {
  const { tokenSecret } = required(ctx.credentials, 'credentials')
  if (tokenSecret === undefined) return undefined
  const key = required(ctx.key, 'key')
  const presented = sha256(tokenSecret)
  let match = false
  for (const digest of deps.material.tokenDigests(key, ctx.now)) match = constantTimeEqual(digest, presented) || match
  if (!match) return new Problem('invalid_key', undefined, { internal: 'wrong_token_secret' })
  ctx.verifiedBy = { token: true, signature: null }
  return undefined
}
