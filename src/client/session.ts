import type { ResolvedCredentials } from './credentials.js'
import { describe } from './encoding.js'
import { IDEMPOTENCY_KEY_RE } from '../idempotency-key.js'
import { sessionId } from '../schemas/sessions.js'
import type {
  CallOptions, SessionCancel, SessionCommit, SessionFanOutAccepted, SessionListOptions, SessionMessage, SessionMessageAccepted, SessionStart, SessionView,
} from './types.js'

/** `ses_` and a lowercase ULID: the pattern the gateway's routes validate ids with (portable plain data). */
const SESSION_ID_RE = new RegExp(sessionId.pattern)

/**
 * What a session object needs from its client: one authenticated call. The client resolves the
 * credentials from the call's own `auth`, the session's and its own (credentialsForCall).
 */
export interface SessionCaller {
  call<T>(method: 'GET' | 'POST', path: string, query: string, body: unknown, options: CallOptions, session: ResolvedCredentials | undefined, idempotencyKey?: string): Promise<T>
}

/**
 * One session, seen by one participant: get it from {@link MechaClient.startSession} (the initiator)
 * or {@link MechaClient.session} (any participant, by id, e.g. from a `session.started` message).
 * Every call authenticates with its own `auth` when given, else the session's `auth`, else the
 * client's: one session object can carry several participants' calls, each with its own key.
 */
export class MechaSession {
  /** The session id, `ses_...`. */
  readonly id: string
  readonly #caller: SessionCaller
  readonly #credentials: ResolvedCredentials | undefined
  #view: SessionView | undefined

  /** Made by the client ({@link MechaClient.startSession}, {@link MechaClient.session}); not constructed directly. */
  constructor(id: string, caller: SessionCaller, credentials: ResolvedCredentials | undefined, view?: SessionView) {
    this.id = checkSessionId(id)
    this.#caller = caller
    this.#credentials = credentials
    this.#view = view
  }

  /**
   * The session as the gateway last described it to this object (the start's answer, then each
   * info, commit or cancel); undefined for a session attached by id until one of those. Not live:
   * call {@link info} for the current state.
   */
  get view(): SessionView | undefined {
    return this.#view
  }

  /** GET /v1/sessions/{id}: the session now (participants only; anyone else gets `unknown_session`). */
  async info(options: CallOptions = {}): Promise<SessionView> {
    return this.#remember(await this.#caller.call<SessionView>('GET', this.#path(), '', undefined, options, this.#credentials))
  }

  /**
   * POST /v1/messages with `session`: one of the session's kinds, to one participant (`to`) or to
   * each other participant. The sender must be a participant and the session open; the key's
   * recipient and kind permissions still apply to every delivery.
   */
  async send(message: SessionMessage, options: CallOptions = {}): Promise<SessionMessageAccepted | SessionFanOutAccepted> {
    const { body, idempotencyKey } = sessionMessageBody(this.id, message)
    return this.#caller.call('POST', '/v1/messages', '', body, options, this.#credentials, idempotencyKey)
  }

  /** POST /v1/sessions/{id}/commit: close it with an outcome (the initiator only); every participant gets `session.committed`. */
  async commit(commit: SessionCommit, options: CallOptions = {}): Promise<SessionView> {
    return this.#remember(await this.#caller.call<SessionView>('POST', `${this.#path()}/commit`, '', commitBody(commit), options, this.#credentials))
  }

  /** POST /v1/sessions/{id}/cancel: close it without an outcome (the initiator only); every participant gets `session.cancelled`. */
  async cancel(cancel: SessionCancel = {}, options: CallOptions = {}): Promise<SessionView> {
    return this.#remember(await this.#caller.call<SessionView>('POST', `${this.#path()}/cancel`, '', cancelBody(cancel), options, this.#credentials))
  }

  #path(): string {
    return `/v1/sessions/${this.id}`
  }

  #remember(view: SessionView): SessionView {
    this.#view = view
    return view
  }
}

export function checkSessionId(id: unknown): string {
  if (typeof id !== 'string' || !SESSION_ID_RE.test(id)) throw new TypeError(`expected a session id (ses_ and 26 of 0-9 a-z), got ${describe(id)}`)
  return id
}

/** The POST /v1/sessions body. Ranges (participants, ttl, intent length) are the gateway's to check. */
export function sessionStartBody(start: SessionStart): Record<string, unknown> {
  checkObject(start, ['mode', 'participants', 'intent', 'ttlSeconds'], 'session start')
  if (typeof start.mode !== 'string' || start.mode === '') throw new TypeError(`expected mode as a mode name, got ${describe(start.mode)}`)
  if (!Array.isArray(start.participants) || start.participants.length === 0 || !start.participants.every((p) => typeof p === 'string' && p !== '')) {
    throw new TypeError(`expected participants as a non-empty list of mecha ids, got ${describe(start.participants)}`)
  }
  if (start.intent !== undefined && typeof start.intent !== 'string') throw new TypeError(`expected intent as a string, got ${describe(start.intent)}`)
  if (typeof start.ttlSeconds !== 'number' || !Number.isSafeInteger(start.ttlSeconds) || start.ttlSeconds <= 0) {
    throw new TypeError(`expected ttlSeconds as a positive whole number of seconds, got ${describe(start.ttlSeconds)}`)
  }
  return {
    mode: start.mode, participants: [...start.participants], ...(start.intent !== undefined ? { intent: start.intent } : {}), ttl_seconds: start.ttlSeconds,
  }
}

/** The query of GET /v1/sessions. */
export function sessionListQuery(list: SessionListOptions): string {
  checkObject(list, ['state', 'limit', 'after'], 'session list options')
  const params: string[] = []
  if (list.state !== undefined) {
    if (!['open', 'closed', 'all'].includes(list.state)) throw new TypeError(`expected state as "open", "closed" or "all", got ${describe(list.state)}`)
    params.push(`state=${list.state}`)
  }
  if (list.limit !== undefined) {
    if (typeof list.limit !== 'number' || !Number.isSafeInteger(list.limit) || list.limit < 1) throw new TypeError(`expected limit as a positive whole number, got ${describe(list.limit)}`)
    params.push(`limit=${list.limit}`)
  }
  if (list.after !== undefined) params.push(`after=${checkSessionId(list.after)}`)
  return params.length === 0 ? '' : `?${params.join('&')}`
}

function sessionMessageBody(session: string, message: SessionMessage): { body: Record<string, unknown>; idempotencyKey: string | undefined } {
  checkObject(message, ['to', 'kind', 'payload', 'replyTo', 'idempotencyKey'], 'session message')
  if (typeof message.kind !== 'string' || message.kind === '') throw new TypeError(`expected message.kind as a non-empty string, got ${describe(message.kind)}`)
  for (const name of ['to', 'replyTo'] as const) {
    if (message[name] !== undefined && (typeof message[name] !== 'string' || message[name] === '')) throw new TypeError(`expected message.${name} as a non-empty string, got ${describe(message[name])}`)
  }
  if (message.payload === undefined) throw new TypeError('expected message.payload as a JSON value, got undefined')
  if (message.idempotencyKey !== undefined && (typeof message.idempotencyKey !== 'string' || !IDEMPOTENCY_KEY_RE.test(message.idempotencyKey))) {
    throw new TypeError(`expected message.idempotencyKey as 1 to 128 characters of A-Z a-z 0-9 . _ : -, got ${describe(message.idempotencyKey)}`)
  }
  const body: Record<string, unknown> = { session, ...(message.to !== undefined ? { to: message.to } : {}), kind: message.kind, payload: message.payload }
  if (message.replyTo !== undefined) body.reply_to = message.replyTo
  return { body, idempotencyKey: message.idempotencyKey }
}

function commitBody(commit: SessionCommit): Record<string, unknown> {
  checkObject(commit, ['outcome', 'reason'], 'commit')
  if (commit.outcome === undefined) throw new TypeError('expected outcome as a JSON value, got undefined')
  return { outcome: commit.outcome, ...reasonOf(commit.reason) }
}

function cancelBody(cancel: SessionCancel): Record<string, unknown> {
  checkObject(cancel, ['reason'], 'cancel')
  return reasonOf(cancel.reason)
}

function reasonOf(reason: unknown): { reason?: string } {
  if (reason === undefined) return {}
  if (typeof reason !== 'string') throw new TypeError(`expected reason as a string, got ${describe(reason)}`)
  return { reason }
}

function checkObject(value: unknown, fields: readonly string[], where: string): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError(`expected ${where} as an object, got ${describe(value)}`)
  for (const name of Object.keys(value)) {
    if (!fields.includes(name)) throw new TypeError(`expected ${where} among ${fields.join(', ')}, got unknown ${describe(name)}`)
  }
}
