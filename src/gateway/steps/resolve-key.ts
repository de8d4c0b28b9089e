import { keyStatus } from '../../control-plane/key-view.js'
import { Problem } from '../../errors/problem.js'
import type { KeyRecord, MechaRecord } from '../../model.js'
import type { RecordCache } from '../record-cache.js'
import { required, type GatewayContext, type StepResult } from '../context.js'

/**
 * The claimed key exists, is not revoked or expired, and its mecha is active. Nothing here may tell a
 * caller who has not proven the secret anything about the key: every failure is the same public
 * refusal, and the precise cause goes to the log only.
 *
 * With a token, that refusal is `invalid_key`, now (the token's secret would be checked next, in the
 * same phase). With a signature alone, it is `bad_signature`, and it is not answered here: it waits
 * until the signature step, after the body has been read, so that an unknown key and a known key with
 * a wrong signature are refused with the same answer at the same moment.
 */
export function resolveKey(ctx: GatewayContext, deps: { records: RecordCache }): StepResult | Promise<StepResult> {
  const { keyId } = required(ctx.credentials, 'credentials')
  const key = deps.records.getKey(keyId)
  return key instanceof Promise ? key.then((k) => withKey(ctx, deps, k)) : withKey(ctx, deps, key)
}

function withKey(ctx: GatewayContext, deps: { records: RecordCache }, key: KeyRecord | undefined): StepResult | Promise<StepResult> {
  if (key === undefined) return unproven(ctx, 'unknown_key')
  const mecha = deps.records.getMecha(key.mecha)
  return mecha instanceof Promise ? mecha.then((m) => withMecha(ctx, key, m)) : withMecha(ctx, key, mecha)
}

function withMecha(ctx: GatewayContext, key: KeyRecord, mecha: MechaRecord | undefined): StepResult {
  const status = keyStatus(key, mecha, ctx.now)
  if (status !== 'active') return unproven(ctx, status === 'revoked' ? 'key_revoked' : status === 'expired' ? 'key_expired' : 'mecha_inactive')
  ctx.key = key
  ctx.mecha = mecha
  return undefined
}

/** The refusal for a key that cannot serve, in the words of the credential presented (see above). */
function unproven(ctx: GatewayContext, internal: string): StepResult {
  if (required(ctx.credentials, 'credentials').tokenSecret !== undefined) return new Problem('invalid_key', undefined, { internal })
  ctx.keyRefusal = new Problem('bad_signature', undefined, { internal })
  return undefined
}
