import { randomBytes } from 'node:crypto'
import { MECHA_ID_RE } from '../../crypto/id-formats.js'
import { Problem } from '../../errors/problem.js'
import type { KeyRecord, MechaRecord } from '../../model.js'
import type { RecordCache } from '../record-cache.js'
import type { GatewayContext, StepResult } from '../context.js'

export const DEV_SENDER_HEADER = 'mecha-dev-sender'

export interface DevSenderDeps {
  records: RecordCache
  /** MECHA_ALLOW_DEV_SENDER_HEADER=1 (the configuration refuses it in production). */
  allowDevSender: boolean
  /** The largest body: a development sender may send messages up to it. */
  bodyLimitBytes: number
}

/**
 * The development sender header (as the MACP runtime has it): with MECHA_ALLOW_DEV_SENDER_HEADER=1, a
 * request carrying `Mecha-Dev-Sender: <mecha id>` and no credential acts as that active mecha with
 * every permission; it needs no timestamp or nonce (a random nonce stands in, so the rest of the
 * pipeline is unchanged) and the credential steps are skipped (pipeline.ts). Without the flag the
 * header is refused, naming the flag, whatever else the request carries.
 */
export function checkDevSender(ctx: GatewayContext, deps: DevSenderDeps): StepResult | Promise<StepResult> {
  const { request } = ctx
  const id = request.header(DEV_SENDER_HEADER)
  if (id === undefined) return undefined
  if (!deps.allowDevSender) {
    return new Problem('dev_sender_refused', 'Mecha-Dev-Sender is accepted only by a development server started with MECHA_ALLOW_DEV_SENDER_HEADER=1; send a Mecha key instead')
  }
  if (request.header('authorization') !== undefined || request.header('signature') !== undefined || request.header('signature-input') !== undefined) {
    return new Problem('malformed_credentials', 'send either a Mecha key or Mecha-Dev-Sender, not both')
  }
  if (request.headerCount(DEV_SENDER_HEADER) > 1 || !MECHA_ID_RE.test(id)) return new Problem('malformed_credentials', 'Mecha-Dev-Sender must be one mecha id')
  const mecha = deps.records.getMecha(id)
  const act = (m: MechaRecord | undefined): StepResult => {
    if (m === undefined || m.status !== 'active') return new Problem('invalid_key', `Mecha-Dev-Sender: no active mecha ${id}`)
    ctx.devSender = id
    ctx.mecha = m
    ctx.key = devKey(m, ctx.now, deps.bodyLimitBytes)
    ctx.timestamp = Math.floor(ctx.now / 1000)
    ctx.nonce = `dev_${randomBytes(18).toString('base64url')}`
    ctx.verifiedBy = { token: false, signature: null }
    ctx.proof.devSender = id
    return undefined
  }
  return mecha instanceof Promise ? mecha.then(act) : act(mecha)
}

/** The key a development sender acts with: every permission, no rate limit, nothing to verify. */
function devKey(mecha: MechaRecord, now: number, bodyLimitBytes: number): KeyRecord {
  const at = new Date(now).toISOString()
  return {
    id: `dev:${mecha.id}`, mecha: mecha.id, label: 'Mecha-Dev-Sender', created_at: at, created_by: 'dev_sender', updated_at: at,
    expires_at: null, revoked_at: null, revoked_by: null,
    permissions: { recipients: ['*'], kinds: ['*'], max_message_bytes: bodyLimitBytes },
    signature: { required: false, algorithms: [] }, public_keys: [], rate_limit: null, credentials: [], version: 0,
  }
}
