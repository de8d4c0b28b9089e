import { Problem } from '../../errors/problem.js'
import { required, type GatewayContext, type StepResult } from '../context.js'

/**
 * A key whose policy requires a signature refuses bearer-only requests. It runs after the token's
 * secret has been verified: only the holder of the secret learns that (and with which algorithms) the
 * key must sign, and a guesser learns nothing about the key's policy.
 */
export function requireSignature(ctx: GatewayContext): StepResult {
  if (required(ctx.credentials, 'credentials').signature !== undefined) return undefined
  const key = required(ctx.key, 'key')
  if (key.signature.required) {
    return new Problem('signature_required', `key ${key.id} requires an RFC 9421 signature (${key.signature.algorithms.join(' or ')})`)
  }
  return undefined
}
