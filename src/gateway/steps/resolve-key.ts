import { Problem } from '../../errors/problem.js'
import type { KeyRecord, MechaRecord } from '../../model.js'
import type { RecordCache } from '../record-cache.js'
import { required, type GatewayContext, type StepResult } from '../context.js'

/**
 * Step 2: the claimed key exists, is not revoked or expired, and its mecha is active. Every failure is
 * the same public `invalid_key`; the precise cause goes to the log and audit trail only, so a caller
 * cannot probe which key ids exist or were revoked.
 */
export function resolveKey(ctx: GatewayContext, deps: { records: RecordCache }): StepResult | Promise<StepResult> {
  const { keyId } = required(ctx.credentials, 'credentials')
  const key = deps.records.getKey(keyId)
  return key instanceof Promise ? key.then((k) => withKey(ctx, deps, k)) : withKey(ctx, deps, key)
}

function withKey(ctx: GatewayContext, deps: { records: RecordCache }, key: KeyRecord | undefined): StepResult | Promise<StepResult> {
  if (key === undefined) return invalidKey('unknown_key')
  if (key.revoked_at !== null) return invalidKey('key_revoked')
  if (key.expires_at !== null && Date.parse(key.expires_at) <= ctx.now) return invalidKey('key_expired')
  const mecha = deps.records.getMecha(key.mecha)
  return mecha instanceof Promise ? mecha.then((m) => withMecha(ctx, key, m)) : withMecha(ctx, key, mecha)
}

function withMecha(ctx: GatewayContext, key: KeyRecord, mecha: MechaRecord | undefined): StepResult {
  if (mecha === undefined || mecha.status !== 'active') return invalidKey('mecha_inactive')
  ctx.key = key
  ctx.mecha = mecha
  return undefined
}

function invalidKey(internal: string): Problem {
  return new Problem('invalid_key', undefined, { internal })
}
