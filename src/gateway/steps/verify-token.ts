import { constantTimeEqual } from '../../crypto/compare.js'
import { sha256 } from '../../crypto/digest.js'
import { Problem } from '../../errors/problem.js'
import type { KeyMaterial } from '../key-material.js'
import { required, type GatewayContext, type StepResult } from '../context.js'

/**
 * A presented token's secret matches a live generation of the key. SHA-256 of the presented secret is
 * compared in constant time with every live digest, without stopping at the first match; the
 * generation that matched is kept as the request's proof (a connection ends when it stops being live).
 */
export function verifyToken(ctx: GatewayContext, deps: { material: KeyMaterial }): StepResult {
  const { tokenSecret } = required(ctx.credentials, 'credentials')
  if (tokenSecret === undefined) return undefined
  const key = required(ctx.key, 'key')
  const presented = sha256(tokenSecret)
  let generation: number | undefined
  for (const digest of deps.material.tokenDigests(key, ctx.now)) {
    if (constantTimeEqual(digest.value, presented)) generation = digest.generation
  }
  if (generation === undefined) return new Problem('invalid_key', undefined, { internal: 'wrong_token_secret' })
  ctx.verifiedBy = { token: true, signature: null }
  ctx.proof.tokenGeneration = generation
  return undefined
}
