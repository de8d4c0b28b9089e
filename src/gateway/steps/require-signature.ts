import { Problem } from '../../errors/problem.js'
import { required, type GatewayContext, type StepResult } from '../context.js'

/** Step 4: a key whose policy requires a signature refuses bearer-only requests (cheap, before any crypto). */
export function requireSignature(ctx: GatewayContext): StepResult {
  const key = required(ctx.key, 'key')
  if (key.signature.required && required(ctx.credentials, 'credentials').signature === undefined) {
    return new Problem('signature_required', `key ${key.id} requires an RFC 9421 signature (${key.signature.algorithms.join(' or ')})`)
  }
  return undefined
}
