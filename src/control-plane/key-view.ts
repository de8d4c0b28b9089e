import { effectiveDelivery } from '../lifecycle/delivery-policy.js'
import type { Credential, DeliverySettings, KeyRecord, KeyStatus, MechaRecord, Permissions } from '../model.js'
import { shownPermissions } from '../permissions/sessions.js'

/**
 * The public metadata of a key: the record's own fields but its version, plus a computed status, and
 * its live credentials without secret material (digests and sealed secrets stay inside).
 */
export interface KeyView extends Omit<KeyRecord, 'credentials' | 'version' | 'permissions'> {
  /** With `sessions` always (the defaults for a key stored before it existed). */
  permissions: Required<Permissions>
  status: KeyStatus
  credentials: CredentialView[]
}

/** A credential generation as shown: whether it has a signing secret, never the secret or its digest. */
type CredentialView = Pick<Credential, 'generation' | 'created_at' | 'expires_at'> & { signing_secret: boolean }

/** A mecha as operators see it: its delivery policy is the one in effect (its overrides over the defaults). */
export type MechaView = Omit<MechaRecord, 'version' | 'delivery'> & { delivery: DeliverySettings }

/** Status precedence: revoked, then an inactive mecha, then expiry. */
export function keyStatus(key: KeyRecord, mecha: MechaRecord | undefined, now: number): KeyStatus {
  if (key.revoked_at !== null) return 'revoked'
  if (mecha === undefined || mecha.status !== 'active') return 'mecha_inactive'
  if (key.expires_at !== null && Date.parse(key.expires_at) <= now) return 'expired'
  return 'active'
}

/** Credentials still live at `now` (a rotated-out generation works until its expires_at). */
export function liveCredentials(key: KeyRecord, now: number): KeyRecord['credentials'] {
  return key.credentials.filter((c) => c.expires_at === null || Date.parse(c.expires_at) > now)
}

export function toKeyView(key: KeyRecord, mecha: MechaRecord | undefined, now: number): KeyView {
  return {
    id: key.id,
    mecha: key.mecha,
    label: key.label,
    status: keyStatus(key, mecha, now),
    created_at: key.created_at,
    created_by: key.created_by,
    updated_at: key.updated_at,
    expires_at: key.expires_at,
    revoked_at: key.revoked_at,
    revoked_by: key.revoked_by,
    permissions: shownPermissions(key),
    signature: key.signature,
    public_keys: key.public_keys,
    rate_limit: key.rate_limit,
    credentials: liveCredentials(key, now).map((c) => ({
      generation: c.generation,
      created_at: c.created_at,
      expires_at: c.expires_at,
      signing_secret: c.signing_secret_enc !== null,
    })),
  }
}

export function toMechaView(mecha: MechaRecord, deliveryDefaults: DeliverySettings): MechaView {
  const { version: _version, delivery, ...view } = mecha
  return { ...view, delivery: effectiveDelivery(delivery, deliveryDefaults) }
}
