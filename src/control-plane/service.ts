import { fromBase64url } from '../crypto/encoding.js'
import { isUsableEd25519PublicKey } from '../crypto/ed25519-key.js'
import { knownTestKey, type KnownTestKey } from '../crypto/known-test-keys.js'
import { newEventId, newKeyId } from '../crypto/ids.js'
import { newSigningSecret, type SecretSealer } from '../crypto/sealed-secret.js'
import { newToken } from '../crypto/token.js'
import { VersionConflictError } from '../errors/faults.js'
import { Problem } from '../errors/problem.js'
import type {
  AuditEvent, AuditType, Credential, DeliveryOverrides, DeliverySettings, KeyRecord, MechaRecord, Permissions, RateLimit, SessionPermissions, SignatureAlgorithm, SignaturePolicy,
} from '../model.js'
import { DEFAULT_SESSION_PERMISSIONS, sessionPermissions } from '../permissions/sessions.js'
import { patternProblem } from '../permissions/glob.js'
import type { AuditQuery, ControlStore } from '../stores/types.js'
import { DEFAULT_DELIVERY, deliveryProblem } from '../lifecycle/delivery-policy.js'
import { ModeRegistry } from './modes.js'
import { liveCredentials, toKeyView, toMechaView, type KeyView, type MechaView } from './key-view.js'

/** How a reload of the operator tokens file changed the set in force. */
export interface OperatorTokensReloadCounts {
  /** Tokens in force after the reload. */
  tokens: number
  added: number
  removed: number
  /** Tokens kept whose operator or scopes changed. */
  changed: number
}

/** Who is acting, for the audit trail. */
export interface Actor {
  operator: string
  requestId: string
  /** Where warnings about this change go (the request's logger); none when omitted. */
  log?: { warn(details: object, message: string): void }
}

export interface MechaCreateInput {
  id: string
  name?: string
  description?: string
  listed?: boolean
  accepts?: string[]
}

export interface MechaUpdateInput {
  name?: string | null
  description?: string | null
  listed?: boolean
  accepts?: string[]
  /** Merged onto the fields already set; null goes back to the defaults for every field. */
  delivery?: DeliveryOverrides | null
}

interface KeyPolicyInput {
  expires_at?: string | null
  ttl_seconds?: number
  /** `sessions` merges field by field onto the key's current (or default) session permissions. */
  permissions?: Partial<Omit<Permissions, 'sessions'>> & { sessions?: Partial<SessionPermissions> }
  signature?: Partial<SignaturePolicy>
  public_keys?: string[]
  rate_limit?: RateLimit | null
}

export interface KeyIssueInput extends KeyPolicyInput {
  label?: string
}

export interface KeyUpdateInput extends KeyPolicyInput {
  label?: string | null
}

export interface IssuedKey {
  key: KeyView
  token: string
  signing_secret?: string
}

export const DEFAULT_PERMISSIONS: Required<Permissions> = {
  recipients: ['*'], kinds: ['*'], max_message_bytes: 65536, sessions: { ...DEFAULT_SESSION_PERMISSIONS, modes: ['*'] },
}
const MAX_CAS_ATTEMPTS = 5

export interface ControlPlaneOptions {
  store: ControlStore
  sealer: SecretSealer
  now?: () => number
  /**
   * What to do with a published test key in `public_keys` (src/crypto/known-test-keys.ts): `refuse`
   * (400 `known_test_key`; production) or `warn` (accept, and warn through the actor's log;
   * development, where the worked example is meant to be tried). Default `refuse`.
   */
  knownTestKeys?: 'refuse' | 'warn'
  /**
   * The `rate_limit` a key is issued with when the request gives none (MECHA_DEFAULT_KEY_RATE_LIMIT),
   * so that no key can flood by default; `rate_limit: null` on issue stays null (the operator's
   * explicit choice). Default null: no default limit.
   */
  defaultRateLimit?: RateLimit | null
  /**
   * The delivery policy of a mecha that sets none (MECHA_MAX_DELIVERIES and the rest): shown in its
   * view beside what its operators set. Default DEFAULT_DELIVERY.
   */
  deliveryDefaults?: DeliverySettings
}

interface FoundTestKey {
  index: number
  key: KnownTestKey
}

/**
 * The control plane's rules, free of HTTP. Every change is a compare-and-set of one record together
 * with its audit event; a lost race is retried on fresh state, then reported as `concurrent_update`.
 */
export class ControlPlane {
  readonly #store: ControlStore
  readonly #sealer: SecretSealer
  readonly #now: () => number
  readonly #knownTestKeys: 'refuse' | 'warn'
  readonly #defaultRateLimit: RateLimit | null
  readonly #deliveryDefaults: DeliverySettings
  /** The session modes (operators write them here; runtime keys through the gateway). */
  readonly modes: ModeRegistry

  constructor(options: ControlPlaneOptions) {
    this.#store = options.store
    this.modes = new ModeRegistry(options.store, options.now)
    this.#sealer = options.sealer
    this.#now = options.now ?? Date.now
    const knownTestKeys = options.knownTestKeys ?? 'refuse'
    if (knownTestKeys !== 'refuse' && knownTestKeys !== 'warn') throw new TypeError(`expected knownTestKeys to be 'refuse' or 'warn', got ${String(knownTestKeys)}`)
    this.#knownTestKeys = knownTestKeys
    this.#defaultRateLimit = checkDefaultRateLimit(options.defaultRateLimit ?? null)
    const deliveryDefaults = options.deliveryDefaults ?? DEFAULT_DELIVERY
    const problem = deliveryProblem(deliveryDefaults)
    if (problem !== undefined) throw new RangeError(`options.deliveryDefaults: ${problem}`)
    this.#deliveryDefaults = deliveryDefaults
  }

  // ---------------------------------------------------------------- mechas

  async createMecha(actor: Actor, input: MechaCreateInput): Promise<MechaView> {
    checkPatterns('accepts', input.accepts)
    const now = this.#iso()
    const record: MechaRecord = {
      id: input.id,
      name: input.name ?? null,
      description: input.description ?? null,
      listed: input.listed ?? false,
      accepts: input.accepts ?? ['*'],
      status: 'active',
      created_at: now,
      created_by: actor.operator,
      updated_at: now,
      deactivated_at: null,
      version: 1,
    }
    try {
      await this.#store.saveMecha(record, null, this.#event(actor, 'mecha.created', 'mecha', record.id, { listed: record.listed }))
    } catch (err) {
      if (err instanceof VersionConflictError) throw new Problem('mecha_exists', `mecha ${record.id} already exists`)
      throw err
    }
    return toMechaView(record, this.#deliveryDefaults)
  }

  async getMecha(id: string): Promise<MechaView> {
    return toMechaView(await this.#requireMecha(id), this.#deliveryDefaults)
  }

  async listMechas(limit: number, after?: string): Promise<{ mechas: MechaView[]; next: string | null }> {
    const page = await this.#store.listMechas({ limit: limit + 1, after })
    const mechas = page.slice(0, limit).map((record) => toMechaView(record, this.#deliveryDefaults))
    return { mechas, next: page.length > limit ? (mechas.at(-1)?.id ?? null) : null }
  }

  async updateMecha(actor: Actor, id: string, input: MechaUpdateInput): Promise<MechaView> {
    checkPatterns('accepts', input.accepts)
    const saved = await this.#casMecha(id, (current) => {
      if (current.status !== 'active') throw new Problem('mecha_inactive', `mecha ${id} is deactivated`)
      const { delivery, ...fields } = input
      const next: MechaRecord = { ...current, ...definedFields(fields), updated_at: this.#iso(), version: current.version + 1 }
      if (delivery === null) delete next.delivery
      else if (delivery !== undefined) next.delivery = mergeDelivery(current.delivery, delivery)
      return { next, event: this.#event(actor, 'mecha.updated', 'mecha', id, { fields: Object.keys(definedFields(input)) }) }
    })
    return toMechaView(saved, this.#deliveryDefaults)
  }

  /**
   * The mecha must exist; then `redrive` moves its dead letters (the transport's, on the mecha's own
   * inbox) and the change is audited as `mecha.dead_letters_redriven` with the ids and the count.
   */
  async redriveDeadLetters(actor: Actor, id: string, ids: string[], redrive: (mecha: string, ids: string[]) => Promise<number>): Promise<number> {
    await this.#requireMecha(id)
    const redriven = await redrive(id, ids)
    await this.#store.appendAudit(this.#event(actor, 'mecha.dead_letters_redriven', 'mecha', id, { ids, redriven }))
    return redriven
  }

  /** The mecha must exist (404 mecha_not_found otherwise): for routes on its inbox. */
  async requireMecha(id: string): Promise<void> {
    await this.#requireMecha(id)
  }

  /** Deactivation is final and idempotent: the mecha's keys stop working; its record and history stay. */
  async deactivateMecha(actor: Actor, id: string): Promise<MechaView> {
    const saved = await this.#casMecha(id, (current) => {
      if (current.status === 'inactive') return undefined
      const now = this.#iso()
      const next: MechaRecord = { ...current, status: 'inactive', deactivated_at: now, updated_at: now, version: current.version + 1 }
      return { next, event: this.#event(actor, 'mecha.deactivated', 'mecha', id, {}) }
    })
    return toMechaView(saved, this.#deliveryDefaults)
  }

  // ---------------------------------------------------------------- keys

  async issueKey(actor: Actor, mechaId: string, input: KeyIssueInput): Promise<IssuedKey> {
    const testKeys = this.#screenTestKeys(input.public_keys)
    const mecha = await this.#requireMecha(mechaId)
    if (mecha.status !== 'active') throw new Problem('mecha_inactive', `mecha ${mechaId} is deactivated`)
    const now = this.#iso()
    const policy = this.#resolvePolicy(input, {
      expires_at: null,
      permissions: DEFAULT_PERMISSIONS,
      signature: { required: false, algorithms: [] },
      public_keys: [],
      rate_limit: this.#defaultRateLimit,
    })
    const id = newKeyId()
    const { credential, token, signingSecret } = this.#newCredential(id, 1, policy.signature.algorithms)
    const record: KeyRecord = {
      id,
      mecha: mechaId,
      label: input.label ?? null,
      created_at: now,
      created_by: actor.operator,
      updated_at: now,
      revoked_at: null,
      revoked_by: null,
      ...policy,
      credentials: [credential],
      version: 1,
    }
    await this.#store.saveKey(record, null, this.#event(actor, 'key.issued', 'key', id, {
      mecha: mechaId, algorithms: policy.signature.algorithms, expires_at: policy.expires_at,
    }))
    warnTestKeys(actor, id, mechaId, testKeys)
    return { key: toKeyView(record, mecha, this.#now()), token, ...(signingSecret !== undefined ? { signing_secret: signingSecret } : {}) }
  }

  async getKey(id: string): Promise<KeyView> {
    const key = await this.#requireKey(id)
    return toKeyView(key, await this.#store.getMecha(key.mecha), this.#now())
  }

  async listKeys(mechaId: string): Promise<KeyView[]> {
    const mecha = await this.#requireMecha(mechaId)
    const now = this.#now()
    return (await this.#store.listKeys(mechaId)).map((key) => toKeyView(key, mecha, now))
  }

  async updateKey(actor: Actor, id: string, input: KeyUpdateInput): Promise<KeyView> {
    const testKeys = this.#screenTestKeys(input.public_keys)
    const saved = await this.#casKey(id, (current) => {
      if (current.revoked_at !== null) throw new Problem('key_revoked', `key ${id} is revoked`)
      const policy = this.#resolvePolicy(input, current)
      const hasSecret = liveCredentials(current, this.#now()).some((c) => c.signing_secret_enc !== null)
      if (policy.signature.algorithms.includes('hmac-sha256') && !hasSecret) {
        throw new Problem('invalid_signature_policy', 'hmac-sha256 can only be added together with a signing secret: rotate the key after this change, or issue a new key with hmac-sha256')
      }
      const next: KeyRecord = {
        ...current,
        ...policy,
        label: input.label !== undefined ? input.label : current.label,
        updated_at: this.#iso(),
        version: current.version + 1,
      }
      return { next, event: this.#event(actor, 'key.updated', 'key', id, { mecha: current.mecha, fields: Object.keys(input) }) }
    })
    warnTestKeys(actor, id, saved.mecha, testKeys)
    return toKeyView(saved, await this.#store.getMecha(saved.mecha), this.#now())
  }

  /** Revocation is final and idempotent. */
  async revokeKey(actor: Actor, id: string): Promise<KeyView> {
    const saved = await this.#casKey(id, (current) => {
      if (current.revoked_at !== null) return undefined
      const now = this.#iso()
      const next: KeyRecord = { ...current, revoked_at: now, revoked_by: actor.operator, updated_at: now, version: current.version + 1 }
      return { next, event: this.#event(actor, 'key.revoked', 'key', id, { mecha: current.mecha }) }
    })
    return toKeyView(saved, await this.#store.getMecha(saved.mecha), this.#now())
  }

  /**
   * A new token (and signing secret, when the key signs with HMAC) under the same key id. Earlier
   * generations keep working for `graceSeconds` (never longer than they already would), then stop.
   */
  async rotateKey(actor: Actor, id: string, graceSeconds: number): Promise<IssuedKey> {
    let issued: { token: string; signingSecret?: string } | undefined
    const saved = await this.#casKey(id, (current) => {
      if (current.revoked_at !== null) throw new Problem('key_revoked', `key ${id} is revoked`)
      const nowMs = this.#now()
      const graceEnd = new Date(nowMs + graceSeconds * 1000).toISOString()
      const previous = liveCredentials(current, nowMs).map((c) => ({
        ...c,
        expires_at: c.expires_at !== null && c.expires_at < graceEnd ? c.expires_at : graceEnd,
      }))
      const generation = Math.max(0, ...current.credentials.map((c) => c.generation)) + 1
      const fresh = this.#newCredential(id, generation, current.signature.algorithms)
      issued = { token: fresh.token, signingSecret: fresh.signingSecret }
      const next: KeyRecord = {
        ...current,
        credentials: [...(graceSeconds > 0 ? previous : []), fresh.credential],
        updated_at: new Date(nowMs).toISOString(),
        version: current.version + 1,
      }
      return { next, event: this.#event(actor, 'key.rotated', 'key', id, { mecha: current.mecha, generation, grace_seconds: graceSeconds }) }
    })
    if (issued === undefined) throw new Error('rotation produced no credential')
    return {
      key: toKeyView(saved, await this.#store.getMecha(saved.mecha), this.#now()),
      token: issued.token,
      ...(issued.signingSecret !== undefined ? { signing_secret: issued.signingSecret } : {}),
    }
  }

  // ---------------------------------------------------------------- audit

  async listAudit(query: AuditQuery): Promise<{ events: AuditEvent[]; next: string | null }> {
    const page = await this.#store.listAudit({ ...query, limit: query.limit + 1 })
    const events = page.slice(0, query.limit)
    return { events, next: page.length > query.limit ? (events.at(-1)?.id ?? null) : null }
  }

  /** Record a refused operator request. Never given a secret: callers pass reason and route only. */
  async recordRefusal(operator: string | null, requestId: string, route: string, details: Record<string, unknown>): Promise<void> {
    await this.#store.appendAudit({
      id: newEventId(this.#now()),
      time: this.#iso(),
      type: 'operator.refused',
      operator,
      target: { kind: 'route', id: route },
      request_id: requestId,
      details,
    })
  }

  /**
   * Record that MECHA_OPERATOR_TOKENS_FILE was re-read and changed the token set. Counts only: no
   * token, digest or operator name, so the trail does not show which operator lost access.
   */
  async recordOperatorTokensReload(reloadId: string, counts: OperatorTokensReloadCounts): Promise<void> {
    await this.#store.appendAudit({
      id: newEventId(this.#now()),
      time: this.#iso(),
      type: 'operator.tokens_reloaded',
      operator: null,
      target: { kind: 'config', id: 'MECHA_OPERATOR_TOKENS_FILE' },
      request_id: reloadId,
      details: { ...counts },
    })
  }

  // ---------------------------------------------------------------- internals

  #iso(): string {
    return new Date(this.#now()).toISOString()
  }

  #event(actor: Actor, type: AuditType, kind: 'mecha' | 'key', id: string, details: Record<string, unknown>): AuditEvent {
    return { id: newEventId(this.#now()), time: this.#iso(), type, operator: actor.operator, target: { kind, id }, request_id: actor.requestId, details }
  }

  async #requireMecha(id: string): Promise<MechaRecord> {
    const mecha = await this.#store.getMecha(id)
    if (mecha === undefined) throw new Problem('mecha_not_found', `no mecha ${id}`)
    return mecha
  }

  async #requireKey(id: string): Promise<KeyRecord> {
    const key = await this.#store.getKey(id)
    if (key === undefined) throw new Problem('key_not_found', `no key ${id}`)
    return key
  }

  /** Read-modify-write with retries. `change` returns undefined for a no-op (idempotent calls). */
  async #casMecha(id: string, change: (current: MechaRecord) => { next: MechaRecord; event: AuditEvent } | undefined): Promise<MechaRecord> {
    return this.#cas(() => this.#requireMecha(id), change, (next, expected, event) => this.#store.saveMecha(next, expected, event))
  }

  async #casKey(id: string, change: (current: KeyRecord) => { next: KeyRecord; event: AuditEvent } | undefined): Promise<KeyRecord> {
    return this.#cas(() => this.#requireKey(id), change, (next, expected, event) => this.#store.saveKey(next, expected, event))
  }

  async #cas<R extends { version: number }>(
    read: () => Promise<R>,
    change: (current: R) => { next: R; event: AuditEvent } | undefined,
    save: (next: R, expected: number, event: AuditEvent) => Promise<void>,
  ): Promise<R> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = await read()
      const planned = change(current)
      if (planned === undefined) return current
      try {
        await save(planned.next, current.version, planned.event)
        return planned.next
      } catch (err) {
        if (!(err instanceof VersionConflictError)) throw err
      }
    }
    throw new Problem('concurrent_update')
  }

  #newCredential(keyId: string, generation: number, algorithms: readonly SignatureAlgorithm[]): { credential: Credential; token: string; signingSecret?: string } {
    const { token, digest } = newToken(keyId)
    const signingSecret = algorithms.includes('hmac-sha256') ? newSigningSecret() : undefined
    return {
      token,
      signingSecret,
      credential: {
        generation,
        token_digest: digest,
        signing_secret_enc: signingSecret === undefined ? null : this.#sealer.seal(signingSecret, sealContext(keyId, generation)),
        created_at: this.#iso(),
        expires_at: null,
      },
    }
  }

  /**
   * The published test keys among the public keys a request registers, refused at once in `refuse`
   * mode (pure, so before any read). Only keys the request gives are screened: a stored key is not
   * re-judged on an unrelated change (a label), and replacing it means sending new public_keys.
   */
  #screenTestKeys(publicKeys: readonly string[] | undefined): FoundTestKey[] {
    const found = (publicKeys ?? []).flatMap((publicKey, index) => {
      const key = knownTestKey(publicKey)
      return key === undefined ? [] : [{ index, key }]
    })
    const [first] = found
    if (first !== undefined && this.#knownTestKeys === 'refuse') {
      throw new Problem('known_test_key', `public_keys[${first.index}] is the published test key of ${first.key.source}: anyone can sign with it`)
    }
    return found
  }

  /** Merge a policy change onto the current policy and check it as a whole. */
  #resolvePolicy(input: KeyPolicyInput, current: Pick<KeyRecord, 'expires_at' | 'permissions' | 'signature' | 'public_keys' | 'rate_limit'>): Pick<KeyRecord, 'expires_at' | 'permissions' | 'signature' | 'public_keys' | 'rate_limit'> {
    const { sessions: sessionsInput, ...messageInput } = input.permissions ?? {}
    const sessions: SessionPermissions = { ...sessionPermissions(current.permissions), ...definedFields(sessionsInput ?? {}) }
    const permissions: Permissions = { ...current.permissions, ...definedFields(messageInput), sessions: { ...sessions, modes: [...sessions.modes] } }
    checkPatterns('permissions.recipients', permissions.recipients)
    checkPatterns('permissions.kinds', permissions.kinds)
    checkPatterns('permissions.sessions.modes', sessions.modes)
    const signature: SignaturePolicy = { ...current.signature, ...definedFields(input.signature ?? {}) }
    const publicKeys = input.public_keys ?? current.public_keys
    for (const [i, pk] of publicKeys.entries()) {
      const bytes = fromBase64url(pk)
      if (bytes === undefined || !isUsableEd25519PublicKey(bytes)) {
        throw new Problem('invalid_public_key', `public_keys[${i}] is not a usable Ed25519 public key (32 bytes, unpadded base64url, not small-order)`)
      }
    }
    if (new Set(publicKeys).size !== publicKeys.length) throw new Problem('invalid_public_key', 'public_keys contains a duplicate')
    if (signature.required && signature.algorithms.length === 0) {
      throw new Problem('invalid_signature_policy', 'signature.required needs at least one algorithm in signature.algorithms')
    }
    if (signature.algorithms.includes('ed25519') && publicKeys.length === 0) {
      throw new Problem('invalid_signature_policy', 'ed25519 needs at least one entry in public_keys')
    }
    if (!signature.algorithms.includes('ed25519') && publicKeys.length > 0) {
      throw new Problem('invalid_signature_policy', 'public_keys are given but ed25519 is not in signature.algorithms')
    }
    return {
      expires_at: this.#resolveExpiry(input, current.expires_at),
      permissions,
      signature: { required: signature.required, algorithms: [...signature.algorithms] },
      public_keys: [...publicKeys],
      rate_limit: input.rate_limit !== undefined ? input.rate_limit : current.rate_limit,
    }
  }

  #resolveExpiry(input: KeyPolicyInput, current: string | null): string | null {
    if (input.expires_at !== undefined && input.ttl_seconds !== undefined) {
      throw new Problem('invalid_expiry', 'give either expires_at or ttl_seconds, not both')
    }
    if (input.ttl_seconds !== undefined) return new Date(this.#now() + input.ttl_seconds * 1000).toISOString()
    if (input.expires_at === undefined) return current
    if (input.expires_at === null) return null
    const at = Date.parse(input.expires_at)
    if (Number.isNaN(at)) throw new Problem('invalid_expiry', 'expires_at is not an RFC 3339 date-time')
    if (at <= this.#now()) throw new Problem('invalid_expiry', 'expires_at is in the past')
    return new Date(at).toISOString()
  }
}

/** The AES-GCM associated data of a signing secret: binds it to its key and generation. */
export function sealContext(keyId: string, generation: number): string {
  return `mecharim/signing-secret/${keyId}/${generation}`
}

function checkPatterns(field: string, patterns: readonly string[] | undefined): void {
  for (const [i, pattern] of (patterns ?? []).entries()) {
    const problem = patternProblem(pattern)
    if (problem !== undefined) throw new Problem('invalid_pattern', `${field}[${i}] ${problem}`)
  }
}

/** An operator's delivery fields over the ones set before, checked (the HTTP schema checks them first). */
function mergeDelivery(current: DeliveryOverrides | undefined, update: DeliveryOverrides): DeliveryOverrides {
  const problem = deliveryProblem(update)
  if (problem !== undefined) throw new Problem('invalid_request', `delivery: ${problem}`)
  return { ...current, ...definedFields(update) }
}

function definedFields<T extends object>(input: T): Partial<T> {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as Partial<T>
}

/** Development only (`warn` mode): say, once the change is stored, that anyone can sign as this key. */
function warnTestKeys(actor: Actor, keyId: string, mechaId: string, found: readonly FoundTestKey[]): void {
  for (const { key } of found) {
    actor.log?.warn({ key: keyId, mecha: mechaId, public_key: key.publicKey, source: key.source },
      'registered a published test key: anyone can sign as this key (NODE_ENV=production refuses it with known_test_key)')
  }
}

/** The ranges of the key schema's rate_limit (src/schemas/common.ts), checked at construction. */
function checkDefaultRateLimit(limit: RateLimit | null): RateLimit | null {
  if (limit === null) return null
  const { requests, per_seconds } = limit
  if (!Number.isSafeInteger(requests) || requests < 1 || requests > 1_000_000 || !Number.isSafeInteger(per_seconds) || per_seconds < 1 || per_seconds > 86400) {
    throw new RangeError(`expected defaultRateLimit as {requests 1-1000000, per_seconds 1-86400} or null, got ${JSON.stringify(limit)}`)
  }
  return { requests, per_seconds }
}
