/**
 * Records as they are stored. Nothing here holds a secret in plaintext: bearer secrets are SHA-256
 * digests, HMAC signing secrets are AES-256-GCM ciphertext under MECHA_MASTER_KEY.
 */

export type SignatureAlgorithm = 'hmac-sha256' | 'ed25519'
export const SIGNATURE_ALGORITHMS: readonly SignatureAlgorithm[] = ['hmac-sha256', 'ed25519']

/** A mecha's delivery policy as operators write and read it (the wire form; lifecycle/delivery-policy.ts applies it). */
export interface DeliverySettings {
  max_deliveries: number
  backoff_seconds: number[]
  visibility_seconds: number
  dead_letter_ttl_seconds: number
}

/** What a mecha record keeps: only the fields its operator set (the rest follow the defaults). */
export type DeliveryOverrides = Partial<DeliverySettings>

export interface MechaRecord {
  id: string
  name: string | null
  description: string | null
  /** Shown in the public directory when true. */
  listed: boolean
  /** Glob patterns of message kinds this mecha accepts (published on its directory card). */
  accepts: string[]
  status: 'active' | 'inactive'
  created_at: string
  created_by: string
  updated_at: string
  deactivated_at: string | null
  /** The delivery policy fields its operators set (PATCH `delivery`); absent: all the defaults. */
  delivery?: DeliveryOverrides
  version: number
}

export interface Permissions {
  recipients: string[]
  kinds: string[]
  max_message_bytes: number
  /** Absent on keys stored before sessions existed: they read as the defaults (permissions/sessions.ts). */
  sessions?: SessionPermissions
}

/**
 * What a key may do with sessions (issue 13): start them (`can_start`), in which modes (`modes`), how
 * many open at once (`max_open`), and whether it may write modes through the gateway
 * (`can_manage_modes`). Taking part in someone else's session needs none of these.
 */
export interface SessionPermissions {
  can_start: boolean
  /** Most sessions the key may have open at once; null: no limit. */
  max_open: number | null
  /** Mode names (globs) the key may start sessions in. */
  modes: string[]
  can_manage_modes: boolean
}

export interface SignaturePolicy {
  required: boolean
  algorithms: SignatureAlgorithm[]
}

export interface RateLimit {
  requests: number
  per_seconds: number
}

/** One generation of a key's secrets; rotation adds one and sets an end on the others. */
export interface Credential {
  generation: number
  /** base64url SHA-256 of the token's secret part. */
  token_digest: string
  /** `v1.<iv>.<ciphertext+tag>` (AES-256-GCM under the master key), when the key signs with HMAC. */
  signing_secret_enc: string | null
  created_at: string
  /** Set when a rotation superseded this generation: it works until then. */
  expires_at: string | null
}

export interface KeyRecord {
  id: string
  mecha: string
  label: string | null
  created_at: string
  created_by: string
  updated_at: string
  expires_at: string | null
  revoked_at: string | null
  revoked_by: string | null
  permissions: Permissions
  signature: SignaturePolicy
  /** Ed25519 public keys, raw 32 bytes as unpadded base64url. */
  public_keys: string[]
  rate_limit: RateLimit | null
  credentials: Credential[]
  version: number
}

/**
 * A session mode: a named protocol and the message kinds it uses (issue 13). Descriptive: a mode grants
 * nothing, it tells runtimes which kinds make up a protocol. `version` is the protocol's own version
 * (a positive integer, by convention the name's `.v<N>` suffix); `revision` counts changes to the
 * record and is what writes compare-and-set on.
 */
export interface ModeRecord {
  name: string
  kinds: string[]
  description: string | null
  version: number
  created_at: string
  /** The operator, or `key:<key id>` when a runtime key wrote it through the gateway. */
  created_by: string
  updated_at: string
  updated_by: string
  revision: number
}

export type KeyStatus = 'active' | 'expired' | 'revoked' | 'mecha_inactive'

export type AuditType =
  | 'mecha.created'
  | 'mecha.updated'
  | 'mecha.deactivated'
  /** An operator moved dead letters of a mecha back to its inbox (POST /v1/mechas/{id}/dead-letters/redrive). */
  | 'mecha.dead_letters_redriven'
  | 'key.issued'
  | 'key.updated'
  | 'key.rotated'
  | 'key.revoked'
  | 'mode.put'
  | 'mode.deleted'
  | 'operator.refused'
  | 'operator.tokens_reloaded'
  /** A runtime request that acted as a mecha through Mecha-Dev-Sender (development only). */
  | 'dev_sender'

export const AUDIT_TYPES: readonly AuditType[] = [
  'mecha.created', 'mecha.updated', 'mecha.deactivated', 'mecha.dead_letters_redriven',
  'key.issued', 'key.updated', 'key.rotated', 'key.revoked', 'mode.put', 'mode.deleted', 'operator.refused',
  'operator.tokens_reloaded', 'dev_sender',
]

export interface AuditEvent {
  /** Time-ordered id (sorts like the event time); pagination cursor for `before`. */
  id: string
  time: string
  type: AuditType
  /**
   * The acting operator, or null when the request was refused before one was known, no request was
   * made (a reload), or a runtime key acted (then `details.key` and `details.mecha` name it).
   */
  operator: string | null
  /** `config`: a setting the process re-read (`MECHA_OPERATOR_TOKENS_FILE`). */
  target: { kind: 'mecha' | 'key' | 'mode' | 'route' | 'config'; id: string }
  request_id: string
  /** Non-secret facts about the change (changed field names, refusal reason, client address...). */
  details: Record<string, unknown>
}
