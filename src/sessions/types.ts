import { idTime, MECHA_ID_RE } from '../crypto/id-formats.js'

/**
 * Sessions (issue 13 item 2; the agreed design is specs/sessions.md): the record, and the store
 * contract every implementation (LMDB, standalone Redis, Redis Cluster) keeps. The rules that both
 * implementations apply in TypeScript live here once: the close time rule, the retention, the checks.
 */

export type SessionState = 'open' | 'committed' | 'cancelled' | 'expired'

/** The states a close moves a session to. */
export type ClosedSessionState = Exclude<SessionState, 'open'>

export interface SessionRecord {
  /** `ses_<ulid lowercase>` (crypto/ids.ts newSessionId): ids sort by time. */
  id: string
  mode: string
  /** The mode's kinds, snapshotted at start: a later mode change does not move an open session. */
  kinds: string[]
  /** The caller's mecha; always in `participants`. */
  initiator: string
  /** The key id that started it: max_open counts per key. */
  initiator_key: string
  /** Unique, sorted, the initiator included, 2..MAX_SESSION_PARTICIPANTS. */
  participants: string[]
  intent: string | null
  /** As stored: a reader treats `open` at or past `expires_at` as `expired` (`sessionStateAt`). */
  state: SessionState
  /** The commit's outcome (any JSON value). */
  outcome: unknown | null
  /** Commit or cancel reason; 'ttl' for expired. */
  reason: string | null
  /** RFC 3339. */
  created_at: string
  /** RFC 3339. */
  expires_at: string
  closed_at: string | null
}

export interface SessionStartOptions {
  /** The initiator key's `permissions.sessions.max_open`; null: no limit (the start is still counted). */
  maxOpen: number | null
  /** The gateway's clock, unix ms: sessions with expires_at <= now no longer count as open. */
  now: number
}

export type SessionStartResult =
  | { outcome: 'started' }
  /**
   * `open`: the key's open sessions counted. `earliestExpiresAt` (unix ms): when the first of them
   * expires, for Retry-After (an addition to the spec's shape: the gateway could not know it otherwise).
   */
  | { outcome: 'too_many_open'; open: number; earliestExpiresAt: number }

export interface SessionListOptions {
  /** 1..1000. */
  limit: number
  /** An id cursor: only sessions with a smaller id (older) are listed. */
  after?: string
}

export interface SessionChange {
  state: ClosedSessionState
  outcome: unknown | null
  reason: string | null
  /** The gateway's clock, unix ms: closed_at, and the time rule's now. */
  now: number
}

export type SessionCloseResult =
  | { outcome: 'closed'; record: SessionRecord }
  /** Already closed, or the time rule refused: the record as it is. */
  | { outcome: 'not_open'; record: SessionRecord }
  | { outcome: 'missing' }

/**
 * Where sessions are kept. Every method rejects with `DependencyUnavailableError('store')` when the
 * storage fails (sessions live beside the data plane; their failures answer 503 store_unavailable),
 * and with a TypeError or RangeError on arguments that break the contract. No `close()`: the store
 * shares the database or the connection the stores own.
 */
export interface SessionStore {
  /**
   * Create the session. Atomically (across every gateway instance) counts the initiator key's open
   * sessions (not closed and expires_at > now) and refuses when maxOpen !== null and count >= maxOpen.
   * Every start is recorded in the key's open set whatever maxOpen is, so a limit set later counts it.
   */
  start(record: SessionRecord, options: SessionStartOptions): Promise<SessionStartResult>
  get(id: string): Promise<SessionRecord | undefined>
  /** The mecha's sessions (as a participant, initiator included), newest first by id. */
  listFor(mecha: string, options: SessionListOptions): Promise<SessionRecord[]>
  /**
   * Close an open session (compare-and-set on state === 'open'): committed/cancelled only while
   * now < expires_at; expired only when now >= expires_at. Removes it from the key's open set and the
   * due set.
   */
  close(id: string, change: SessionChange): Promise<SessionCloseResult>
  /**
   * Open sessions whose expires_at <= now, oldest expiry first, at most `limit` (the expiry sweeper's
   * read). Also removes what is past retention (SESSION_RETENTION_MS): records and their listing entries.
   */
  due(now: number, limit: number): Promise<SessionRecord[]>
  ping(): Promise<void>
}

/** A closed session (or one never closed, from its expiry) is kept this long, then removed. */
export const SESSION_RETENTION_MS = 24 * 60 * 60 * 1000

/** The most a `listFor` or `due` may ask for at once. */
export const MAX_SESSION_PAGE = 1000

/** The state a reader shows: a stored `open` at or past expires_at is `expired`. */
export function sessionStateAt(record: SessionRecord, now: number): SessionState {
  return record.state === 'open' && now >= Date.parse(record.expires_at) ? 'expired' : record.state
}

/** The close time rule: commit and cancel only before expires_at, expired only from it on. */
export function closeAllowed(record: SessionRecord, state: ClosedSessionState, now: number): boolean {
  if (record.state !== 'open') return false
  const expired = now >= Date.parse(record.expires_at)
  return state === 'expired' ? expired : !expired
}

/** The record after a close at `change.now`. */
export function closedRecord(record: SessionRecord, change: SessionChange): SessionRecord {
  // An expired session closed at its expiry, whenever the sweeper got to it (the view shows the same before).
  const closedAt = change.state === 'expired' ? record.expires_at : new Date(change.now).toISOString()
  return { ...record, state: change.state, outcome: change.outcome, reason: change.reason, closed_at: closedAt }
}

/**
 * When the record is removed: 24 h after closed_at once closed (a session expired late by the sweeper
 * is kept from its close on, so its participants see the expiry for a day), else 24 h after expires_at.
 */
export function retainedUntil(record: SessionRecord): number {
  return Date.parse(record.closed_at ?? record.expires_at) + SESSION_RETENTION_MS
}

const SESSION_ID = /^ses_[0-9a-z]{26}$/

/** A session's participants at most, the initiator included (the start request's schema uses it too). */
export const MAX_SESSION_PARTICIPANTS = 32
const STATES: readonly SessionState[] = ['open', 'committed', 'cancelled', 'expired']

/** The unix ms time of a session id (its ULID's first 48 bits). */
export function sessionIdTime(id: string): number {
  checkSessionId(id)
  return idTime(id.slice(4))
}

export function checkSessionId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !SESSION_ID.test(id)) throw new TypeError(`expected a session id ses_<26 base32 chars>, got ${describe(id)}`)
}

export function checkMecha(mecha: unknown): asserts mecha is string {
  if (typeof mecha !== 'string' || !MECHA_ID_RE.test(mecha)) throw new TypeError(`expected a mecha id, got ${describe(mecha)}`)
}

export function checkNow(now: unknown): asserts now is number {
  if (typeof now !== 'number' || !Number.isSafeInteger(now) || now < 0) throw new RangeError(`expected now to be unix milliseconds, got ${describe(now)}`)
}

export function checkLimit(limit: unknown): asserts limit is number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > MAX_SESSION_PAGE) throw new RangeError(`expected limit to be an integer in 1..${MAX_SESSION_PAGE}, got ${describe(limit)}`)
}

/** The start's arguments: a new, open record whose fields hold together, and the options. */
export function checkStart(record: SessionRecord, options: SessionStartOptions): void {
  if (typeof record !== 'object' || record === null) throw new TypeError(`expected a session record, got ${describe(record)}`)
  checkSessionId(record.id)
  checkMecha(record.initiator)
  // A key id (`mk...`), or the development sender's `dev:<mecha>`: part of a Redis key name, so no brace or space.
  if (typeof record.initiator_key !== 'string' || !/^[^{}\s]{1,128}$/.test(record.initiator_key)) throw new TypeError(`expected initiator_key to be a key id, got ${describe(record.initiator_key)}`)
  if (record.intent !== null && typeof record.intent !== 'string') throw new TypeError(`expected intent to be a string or null, got ${describe(record.intent)}`)
  if (typeof record.mode !== 'string' || record.mode === '') throw new TypeError(`expected mode to be a mode name, got ${describe(record.mode)}`)
  if (!Array.isArray(record.kinds) || !record.kinds.every((k) => typeof k === 'string')) throw new TypeError(`expected kinds to be an array of strings, got ${describe(record.kinds)}`)
  const p = record.participants
  if (!Array.isArray(p) || p.length < 2 || p.length > MAX_SESSION_PARTICIPANTS) throw new TypeError(`expected 2..${MAX_SESSION_PARTICIPANTS} participants, got ${describe(p)}`)
  for (const [i, mecha] of p.entries()) {
    checkMecha(mecha)
    if (i > 0 && !((p[i - 1] as string) < mecha)) throw new TypeError(`expected participants unique and sorted, got ${JSON.stringify(p)}`)
  }
  if (!p.includes(record.initiator)) throw new TypeError(`expected the initiator ${record.initiator} among the participants, got ${JSON.stringify(p)}`)
  if (record.state !== 'open' || record.closed_at !== null || record.outcome !== null || record.reason !== null) throw new TypeError(`expected a new open record (state open; outcome, reason, closed_at null), got state ${describe(record.state)}`)
  const created = Date.parse(record.created_at)
  const expires = Date.parse(record.expires_at)
  if (!Number.isFinite(created) || !Number.isFinite(expires) || expires <= created) throw new RangeError(`expected RFC 3339 created_at before expires_at, got ${record.created_at} and ${record.expires_at}`)
  if (typeof options !== 'object' || options === null) throw new TypeError(`expected start options, got ${describe(options)}`)
  const { maxOpen } = options
  if (maxOpen !== null && (typeof maxOpen !== 'number' || !Number.isInteger(maxOpen) || maxOpen < 0)) throw new RangeError(`expected maxOpen to be null or a non-negative integer, got ${describe(maxOpen)}`)
  checkNow(options.now)
}

export function checkChange(change: SessionChange): void {
  if (typeof change !== 'object' || change === null) throw new TypeError(`expected a session change, got ${describe(change)}`)
  if (!STATES.includes(change.state) || (change.state as SessionState) === 'open') throw new TypeError(`expected state committed, cancelled or expired, got ${describe(change.state)}`)
  if (change.reason !== null && typeof change.reason !== 'string') throw new TypeError(`expected reason to be a string or null, got ${describe(change.reason)}`)
  if (change.outcome === undefined) throw new TypeError('expected outcome to be a JSON value or null, got undefined')
  checkNow(change.now)
}

export function checkListOptions(mecha: string, options: SessionListOptions): void {
  checkMecha(mecha)
  if (typeof options !== 'object' || options === null) throw new TypeError(`expected list options, got ${describe(options)}`)
  checkLimit(options.limit)
  if (options.after !== undefined) checkSessionId(options.after)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value)
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object'
  return String(value)
}
