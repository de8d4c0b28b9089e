import { createHash } from 'node:crypto'
import { newMessageId, newSessionId } from '../crypto/ids.js'
import type { Message, Transport } from '../transport/types.js'
import { sessionStateAt, type SessionRecord, type SessionStore } from './types.js'

/** What every session answer and notification shows: the record without the key that started it. */
export type SessionView = Omit<SessionRecord, 'initiator_key'>

/** The notifications the gateway sends to a session's participants, as message kinds `session.<event>`. */
export type SessionEvent = 'started' | 'committed' | 'cancelled' | 'expired'

/** Kinds starting with this are the gateway's own: no runtime may send them. */
export const RESERVED_KIND_PREFIX = 'session.'

/** Expired sessions the sweeper closes per round; more wait for the next round. */
const SWEEP_BATCH = 100
const SWEEP_INTERVAL_MS = 1000

/** Still open: stored open and not past its expiry. */
export function isOpen(record: SessionRecord, now: number): boolean {
  return sessionStateAt(record, now) === 'open'
}

/** The session as its participants see it: `expired` as soon as its time is up, before the sweeper closes it. */
export function sessionView(record: SessionRecord, now: number): SessionView {
  const { initiator_key: _key, ...view } = record
  if (record.state === 'open' && !isOpen(record, now)) return { ...view, state: 'expired', reason: 'ttl', closed_at: record.expires_at }
  return view
}

export interface StartInput {
  mode: { name: string; kinds: readonly string[] }
  /** Besides the initiator (added here when absent). */
  participants: readonly string[]
  intent: string | null
  ttlSeconds: number
}

export type StartOutcome = { outcome: 'started'; session: SessionView } | { outcome: 'too_many_open'; open: number; earliestExpiresAt: number }

export type CloseOutcome =
  | { outcome: 'closed'; session: SessionView }
  | { outcome: 'missing' }
  | { outcome: 'not_initiator' }
  | { outcome: 'closed_already'; session: SessionView }

export interface SessionServiceOptions {
  /** A notification or sweep that failed (the next sweep retries an expiry). */
  onError?: (err: unknown) => void
}

/**
 * The rules of sessions over a SessionStore and the transport, free of HTTP: start, close, expire,
 * and the notifications. The gateway's steps call it; the sweeper closes expired sessions.
 *
 * Notifications are messages of kind `session.<event>` from the initiator to every participant (the
 * initiator included), carrying the session view. Each is accepted with an internal idempotency key,
 * `session:<id>:<event>`, per recipient: a retried commit or a second sweeper never delivers one twice.
 * A notification the recipient's budgets refuse is skipped: the session record, which GET /v1/sessions
 * reads, is what holds.
 */
export class SessionService {
  readonly #store: SessionStore
  readonly #transport: Transport
  readonly #idempotencyTtlSeconds: number
  readonly #onError: (err: unknown) => void
  #sweeper: NodeJS.Timeout | undefined
  #sweeping = false

  constructor(store: SessionStore, transport: Transport, options: SessionServiceOptions & { idempotencyTtlSeconds: number }) {
    this.#store = store
    this.#transport = transport
    this.#idempotencyTtlSeconds = options.idempotencyTtlSeconds
    this.#onError = options.onError ?? (() => undefined)
  }

  get store(): SessionStore {
    return this.#store
  }

  async start(initiator: { mecha: string; keyId: string; maxOpen: number | null }, input: StartInput, now: number): Promise<StartOutcome> {
    const participants = [...new Set([initiator.mecha, ...input.participants])].sort()
    const record: SessionRecord = {
      id: newSessionId(now),
      mode: input.mode.name,
      kinds: [...input.mode.kinds],
      initiator: initiator.mecha,
      initiator_key: initiator.keyId,
      participants,
      intent: input.intent,
      state: 'open',
      outcome: null,
      reason: null,
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + input.ttlSeconds * 1000).toISOString(),
      closed_at: null,
    }
    const started = await this.#store.start(record, { maxOpen: initiator.maxOpen, now })
    if (started.outcome === 'too_many_open') return started
    await this.notify(record, 'started', now)
    return { outcome: 'started', session: sessionView(record, now) }
  }

  /**
   * Commit or cancel, by the initiator. A participant who is not the initiator is told so; anyone else
   * learns nothing (missing). Repeating the initiator's own close with the same outcome answers it
   * again and re-sends the notifications a failed first attempt may have missed (deduplicated).
   */
  async close(id: string, caller: string, change: { state: 'committed' | 'cancelled'; outcome: unknown; reason: string | null }, now: number): Promise<CloseOutcome> {
    const current = await this.#store.get(id)
    if (current === undefined || !current.participants.includes(caller)) return { outcome: 'missing' }
    if (current.initiator !== caller) return { outcome: 'not_initiator' }
    if (current.state === change.state && sameJson(current.outcome, change.outcome) && current.reason === change.reason) {
      await this.notify(current, change.state, now)
      return { outcome: 'closed', session: sessionView(current, now) }
    }
    if (!isOpen(current, now)) return { outcome: 'closed_already', session: sessionView(current, now) }
    const closed = await this.#store.close(id, { ...change, now })
    if (closed.outcome === 'missing') return { outcome: 'missing' }
    if (closed.outcome === 'not_open') return { outcome: 'closed_already', session: sessionView(closed.record, now) }
    await this.notify(closed.record, change.state, now)
    return { outcome: 'closed', session: sessionView(closed.record, now) }
  }

  /** Close the sessions whose time is up and tell their participants; returns how many it closed. */
  async sweep(now: number): Promise<number> {
    let closed = 0
    for (const record of await this.#store.due(now, SWEEP_BATCH)) {
      const result = await this.#store.close(record.id, { state: 'expired', outcome: null, reason: 'ttl', now })
      if (result.outcome !== 'closed') continue
      closed++
      await this.notify(result.record, 'expired', now)
    }
    return closed
  }

  /** Sweep every second, until stopSweeper (one round at a time; a failed round is retried by the next). */
  startSweeper(): void {
    if (this.#sweeper !== undefined) return
    this.#sweeper = setInterval(() => {
      if (this.#sweeping) return
      this.#sweeping = true
      this.sweep(Date.now()).catch(this.#onError).finally(() => { this.#sweeping = false })
    }, SWEEP_INTERVAL_MS)
    this.#sweeper.unref()
  }

  stopSweeper(): void {
    clearInterval(this.#sweeper)
    this.#sweeper = undefined
  }

  /** Send `session.<event>` to every participant; a transport fault is thrown (the caller answers 503). */
  async notify(record: SessionRecord, event: SessionEvent, now: number): Promise<void> {
    const payload = sessionView(record, now)
    const key = `session:${record.id}:${event}`
    const requestSha256 = createHash('sha256').update(key).digest('hex')
    for (const to of record.participants) {
      const message: Message = {
        id: newMessageId(now),
        from: record.initiator, to, kind: `${RESERVED_KIND_PREFIX}${event}`, payload, reply_to: null,
        idempotency_key: key, accepted_at: new Date(now).toISOString(), session: record.id,
      }
      await this.#transport.accept({ claim: null, now, message, idempotency: { key, requestSha256, perRecipient: true }, idempotencyTtlSeconds: this.#idempotencyTtlSeconds })
    }
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
