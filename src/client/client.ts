import { credentialsForCall, resolveCredentials, type ResolvedCredentials } from './credentials.js'
import { describe } from './encoding.js'
import { MechaError, errorFromResponse, networkError, staleServerTime } from './errors.js'
import { checkMessageIds } from './ids.js'
import { IDEMPOTENCY_KEY_RE } from '../idempotency-key.js'
import { credentialHeaders, newNonce } from './sign.js'
import { resolveReconnect } from './reconnect.js'
import { MechaSession, checkSessionId, sessionListQuery, sessionStartBody, type SessionCaller } from './session.js'
import { deadLetterQuery, extendSeconds, nackBody, rejectBody, sendLifecycleFields } from './lifecycle.js'
import type {
  AckResult, CallOptions, DeadLetterOptions, DeadLetterPage, ExtendResult, NackOptions, NackResult, PurgeResult, RedriveResult, RejectOptions, RejectResult, ConnectOptions, FetchLike, FrameWebSocketConstructor, InboxOptions, Message, MechaClientOptions, MessageAccepted, OutgoingMessage,
  SessionList, SessionListOptions, SessionOptions, SessionStart, SessionView, WebSocketAuth, WebSocketConstructor, WhoAmI,
} from './types.js'
import { fetchTrusting, webSocketTrusting } from './private-ca.js'
import { defaultWebSocket, resolveWebSocket } from './socket.js'
import { MechaConnection, type ConnectSession } from './websocket.js'

const DEFAULT_TIMEOUT_MS = 30_000
const CREDENTIAL_FIELDS = ['token', 'keyId', 'signingSecret', 'privateKey', 'devSender']
const OPTION_FIELDS = new Set(['url', 'authority', 'fetch', 'WebSocket', 'webSocketAuth', 'ca', 'timeoutMs', 'now', ...CREDENTIAL_FIELDS])
const WEBSOCKET_AUTH: readonly WebSocketAuth[] = ['headers', 'frame']
const AUTH_FIELDS = new Set(CREDENTIAL_FIELDS)
const CALL_FIELDS = new Set(['auth', 'signal'])
const CONNECT_FIELDS = new Set([...CALL_FIELDS, 'reconnect', 'onReconnecting', 'onReconnect'])
const SESSION_FIELDS = new Set(['auth'])
const AUTHORITY_RE = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/
const encoder = new TextEncoder()
/** Bytes as TextEncoder makes them: a type fetch accepts as a body. */
type EncodedBody = ReturnType<TextEncoder['encode']>

interface Exchange {
  status: number
  headers: Headers
  text: string
}

/**
 * A runtime's client for the Mecha gateway: send messages, read and acknowledge the inbox (HTTP
 * long-poll or a WebSocket), all authenticated with a Mecha key (token and/or an RFC 9421 mecha-v1
 * signature). Portable: fetch, TextEncoder, crypto.getRandomValues and noble; no Node built-ins.
 *
 * Every request carries a fresh nonce and the current time. When the gateway refuses a timestamp as
 * stale it says its time; the client remembers the offset and retries that call once.
 */
export class MechaClient {
  readonly #origin: string
  readonly #authority: string
  readonly #credentials: ResolvedCredentials
  readonly #fetch: FetchLike
  readonly #WebSocket: WebSocketConstructor | FrameWebSocketConstructor | undefined
  readonly #webSocketAuth: WebSocketAuth | undefined
  /** The `ca` option, for the WebSocket connect() opens. */
  readonly #caWebSocket: string | undefined
  readonly #timeoutMs: number
  readonly #now: () => number
  #clockOffsetMs = 0

  constructor(options: MechaClientOptions) {
    if (options === null || typeof options !== 'object') throw new TypeError(`expected options as an object, got ${describe(options)}`)
    checkFields(options, OPTION_FIELDS, 'options')
    this.#origin = parseOrigin(options.url)
    const authority = options.authority ?? new URL(this.#origin).host
    if (typeof authority !== 'string' || !AUTHORITY_RE.test(authority)) {
      throw new TypeError(`expected options.authority as host[:port], got ${describe(authority)}`)
    }
    this.#authority = authority
    this.#credentials = resolveCredentials(options, 'options')
    if (options.WebSocket !== undefined && typeof options.WebSocket !== 'function') {
      throw new TypeError(`expected options.WebSocket as a constructor, got ${describe(options.WebSocket)}`)
    }
    if (options.ca !== undefined) {
      if (typeof options.ca !== 'string' || !options.ca.includes('-----BEGIN CERTIFICATE-----')) {
        throw new TypeError(`expected options.ca as PEM certificate text, got ${typeof options.ca === 'string' ? 'a string without a PEM certificate' : describe(options.ca)}`)
      }
      if (options.fetch !== undefined || options.WebSocket !== undefined) throw new TypeError('expected options.ca without options.fetch and options.WebSocket: ca configures the default ones')
      this.#fetch = fetchTrusting(options.ca)
      this.#caWebSocket = options.ca
    } else {
      this.#fetch = resolveFetch(options.fetch)
    }
    this.#WebSocket = options.WebSocket
    if (options.webSocketAuth !== undefined && !WEBSOCKET_AUTH.includes(options.webSocketAuth)) {
      throw new TypeError(`expected options.webSocketAuth as "headers" or "frame", got ${describe(options.webSocketAuth)}`)
    }
    if (options.webSocketAuth === 'frame' && this.#credentials.devSender !== undefined) {
      throw new TypeError('expected options.devSender without webSocketAuth "frame": a development sender is a header, and the authenticate frame carries a Mecha key')
    }
    this.#webSocketAuth = options.webSocketAuth
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new TypeError(`expected options.timeoutMs as a positive number of milliseconds, got ${describe(timeoutMs)}`)
    }
    this.#timeoutMs = timeoutMs
    if (options.now !== undefined && typeof options.now !== 'function') throw new TypeError(`expected options.now as a function, got ${describe(options.now)}`)
    this.#now = options.now ?? Date.now
  }

  /** The gateway origin this client talks to. */
  get url(): string {
    return this.#origin
  }

  /** The key id of the client's default credentials. */
  get keyId(): string {
    return this.#credentials.keyId
  }

  /** The correction applied to the local clock, learnt from a `stale_timestamp` refusal (0 until then). */
  get clockOffsetMs(): number {
    return this.#clockOffsetMs
  }

  /** POST /v1/messages: hand a message to the gateway. Resolves with the 202 acceptance. */
  async send(message: OutgoingMessage, options: CallOptions = {}): Promise<MessageAccepted> {
    const body = messageBody(message)
    return this.#call<MessageAccepted>('POST', '/v1/messages', '', body, options, 0, message.idempotencyKey)
  }

  /**
   * GET /v1/inbox: messages delivered to the key's mecha. Each must be acknowledged ({@link ack})
   * within the gateway's visibility timeout, or it is delivered again.
   */
  async inbox(query: InboxOptions = {}, options: CallOptions = {}): Promise<Message[]> {
    if (query === null || typeof query !== 'object') throw new TypeError(`expected inbox options as an object, got ${describe(query)}`)
    checkFields(query, new Set(['wait', 'limit']), 'inbox options')
    const params: string[] = []
    if (query.wait !== undefined) params.push(`wait=${wholeNumber(query.wait, 'wait')}`)
    if (query.limit !== undefined) params.push(`limit=${wholeNumber(query.limit, 'limit')}`)
    const waitMs = (query.wait ?? 0) * 1000
    const body = await this.#call<{ messages: Message[] }>('GET', '/v1/inbox', params.length === 0 ? '' : `?${params.join('&')}`, undefined, options, waitMs)
    return body.messages
  }

  /** POST /v1/inbox/ack: acknowledge delivered messages (1 to 100 ids). */
  async ack(ids: readonly string[], options: CallOptions = {}): Promise<AckResult> {
    checkMessageIds(ids)
    return this.#call<AckResult>('POST', '/v1/inbox/ack', '', { ids: [...ids] }, options)
  }

  /**
   * POST /v1/inbox/nack: deliver delivered, unacknowledged messages (1 to 100 ids) again, after
   * `delaySeconds` (default: the recipient's backoff). Other ids are ignored.
   */
  async nack(ids: readonly string[], nack: NackOptions = {}, options: CallOptions = {}): Promise<NackResult> {
    return this.#call<NackResult>('POST', '/v1/inbox/nack', '', nackBody(ids, nack), options)
  }

  /**
   * POST /v1/inbox/extend: keep delivered, unacknowledged messages invisible until `seconds` (1 to
   * 43200) from now, at most 12 hours after their delivery.
   */
  async extend(ids: readonly string[], seconds: number, options: CallOptions = {}): Promise<ExtendResult> {
    checkMessageIds(ids)
    return this.#call<ExtendResult>('POST', '/v1/inbox/extend', '', { ids: [...ids], seconds: extendSeconds(seconds) }, options)
  }

  /**
   * POST /v1/inbox/reject: move delivered, unacknowledged messages to the dead letters now (reason
   * `rejected`, `reason` kept as its detail); their senders get a `mecha.delivery.failed` receipt.
   */
  async reject(ids: readonly string[], reject: RejectOptions = {}, options: CallOptions = {}): Promise<RejectResult> {
    return this.#call<RejectResult>('POST', '/v1/inbox/reject', '', rejectBody(ids, reject), options)
  }

  /** GET /v1/inbox/dead: the key's mecha's dead letters, by message id, a page at a time. */
  async deadLetters(query: DeadLetterOptions = {}, options: CallOptions = {}): Promise<DeadLetterPage> {
    return this.#call<DeadLetterPage>('GET', '/v1/inbox/dead', deadLetterQuery(query), undefined, options)
  }

  /** POST /v1/inbox/dead/redrive: dead letters back to the inbox (same id, delivery count afresh). */
  async redrive(ids: readonly string[], options: CallOptions = {}): Promise<RedriveResult> {
    checkMessageIds(ids)
    return this.#call<RedriveResult>('POST', '/v1/inbox/dead/redrive', '', { ids: [...ids] }, options)
  }

  /** POST /v1/inbox/dead/purge: remove dead letters. */
  async purgeDeadLetters(ids: readonly string[], options: CallOptions = {}): Promise<PurgeResult> {
    checkMessageIds(ids)
    return this.#call<PurgeResult>('POST', '/v1/inbox/dead/purge', '', { ids: [...ids] }, options)
  }

  /** GET /v1/whoami: the key, its mecha and permissions, as the gateway sees them. */
  async whoami(options: CallOptions = {}): Promise<WhoAmI> {
    return this.#call<WhoAmI>('GET', '/v1/whoami', '', undefined, options)
  }

  /**
   * POST /v1/sessions: start a session in a mode, the key's mecha its initiator. Resolves with the
   * session object once the gateway has created it and sent every participant `session.started`.
   * `options.auth` (else the client's credentials) starts the session and stays the session's own:
   * its later calls use it unless they give their own `auth` (method > session > client).
   */
  async startSession(start: SessionStart, options: CallOptions = {}): Promise<MechaSession> {
    const body = sessionStartBody(start)
    const session = options.auth === undefined ? undefined : this.#resolveAuth(options.auth)
    const view = await this.#call<SessionView>('POST', '/v1/sessions', '', body, options)
    return new MechaSession(view.id, this.#sessionCaller(), session, view)
  }

  /**
   * A session object for an existing session, by id (no request is made): how a participant joins
   * in, e.g. with the id of a `session.started` message. `options.auth`, when given, is the
   * session's credentials (see {@link startSession}).
   */
  session(id: string, options: SessionOptions = {}): MechaSession {
    if (options === null || typeof options !== 'object') throw new TypeError(`expected session options as an object, got ${describe(options)}`)
    checkFields(options, SESSION_FIELDS, 'session options')
    const credentials = options.auth === undefined ? undefined : this.#resolveAuth(options.auth)
    return new MechaSession(checkSessionId(id), this.#sessionCaller(), credentials)
  }

  /** GET /v1/sessions: the caller's sessions (as a participant), newest first, a page at a time. */
  async sessions(query: SessionListOptions = {}, options: CallOptions = {}): Promise<SessionList> {
    return this.#call<SessionList>('GET', '/v1/sessions', sessionListQuery(query), undefined, options)
  }

  /** GET /v1/sessions/{id}: one session the caller takes part in (else `unknown_session`). */
  async getSession(id: string, options: CallOptions = {}): Promise<SessionView> {
    return this.#call<SessionView>('GET', `/v1/sessions/${checkSessionId(id)}`, '', undefined, options)
  }

  /**
   * GET /v1/connect: a WebSocket on which the gateway pushes messages as they arrive. Iterate the
   * connection for messages; acknowledge each with `message.ack()` (over the socket). Breaking out
   * of the loop, `close()`, or aborting `signal` closes it. Once open, it reconnects by itself with
   * fresh credentials when the gateway asks it to authenticate again or the socket is lost (see
   * {@link ConnectOptions.reconnect}; unacknowledged messages are delivered again). A refused upgrade,
   * a close for the credentials ({@link ConnectionRevokedError}) and a connection that cannot be
   * reopened are thrown by the iterator as {@link MechaError}s. The upgrade request carries the same
   * headers as any call where the WebSocket can send them (Node, Bun); elsewhere (browsers) the
   * socket authenticates in its first frame, answering the gateway's challenge (see
   * `options.webSocketAuth`): the same credentials, the same refusals.
   */
  connect(options: ConnectOptions = {}): MechaConnection {
    const credentials = this.#callCredentials(options, CONNECT_FIELDS)
    const reconnect = resolveReconnect(options.reconnect)
    for (const name of ['onReconnecting', 'onReconnect'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'function') throw new TypeError(`expected ${name} as a function, got ${describe(options[name])}`)
    }
    const webSocket = this.#WebSocket
    const mode = this.#webSocketAuth
    const ca = this.#caWebSocket
    const session: ConnectSession = {
      url: `${this.#origin.replace(/^http/, 'ws')}/v1/connect`,
      headers: (challenge) => this.#headers('GET', '/v1/connect', '', undefined, frameCredentials(credentials, challenge), undefined, challenge),
      webSocket: async () => (webSocket !== undefined ? resolveWebSocket(webSocket, mode)
        : ca !== undefined ? resolveWebSocket(await webSocketTrusting(ca), mode) : defaultWebSocket(mode)),
      timeoutMs: this.#timeoutMs,
      learnServerTime: (serverTime) => this.#learnServerTime(serverTime),
    }
    return new MechaConnection(session, {
      reconnect,
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
      ...(options.onReconnecting !== undefined ? { onReconnecting: options.onReconnecting } : {}),
      ...(options.onReconnect !== undefined ? { onReconnect: options.onReconnect } : {}),
    })
  }

  #sessionCaller(): SessionCaller {
    return {
      call: <T>(method: string, path: string, query: string, body: unknown, options: CallOptions, session: ResolvedCredentials | undefined, idempotencyKey?: string) =>
        this.#call<T>(method, path, query, body, options, 0, idempotencyKey, session),
    }
  }

  async #call<T>(method: string, path: string, query: string, body: unknown, options: CallOptions, extraTimeoutMs = 0, idempotencyKey?: string, session?: ResolvedCredentials): Promise<T> {
    const credentials = this.#callCredentials(options, CALL_FIELDS, session)
    // Serialised once: the digest covers exactly the bytes sent, retries included.
    const bytes = body === undefined ? undefined : serialize(body)
    for (let attempt = 0; ; attempt++) {
      const headers = this.#headers(method, path, query, bytes, credentials, idempotencyKey)
      const answer = await this.#exchange(method, `${path}${query}`, headers, bytes, options.signal, this.#timeoutMs + extraTimeoutMs)
      if (answer.status >= 200 && answer.status < 300) return parseSuccess<T>(answer)
      const error = errorFromResponse(answer.status, answer.headers, answer.text)
      const serverTime = staleServerTime(error)
      // A stale timestamp is refused before anything is written: the retry cannot duplicate a message.
      if (attempt === 0 && serverTime !== undefined) {
        this.#learnServerTime(serverTime)
        continue
      }
      throw error
    }
  }

  /** The credentials of one call: its own `auth`, else the session's (a session object's call), else the client's. */
  #callCredentials(options: CallOptions, allowed: ReadonlySet<string> = CALL_FIELDS, session?: ResolvedCredentials): ResolvedCredentials {
    if (options === null || typeof options !== 'object') throw new TypeError(`expected call options as an object, got ${describe(options)}`)
    checkFields(options, allowed, 'call options')
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
      throw new TypeError(`expected signal as an AbortSignal, got ${describe(options.signal)}`)
    }
    const method = options.auth === undefined ? undefined : this.#resolveAuth(options.auth)
    return credentialsForCall(method, session, this.#credentials)
  }

  #resolveAuth(auth: unknown): ResolvedCredentials {
    if (auth === null || typeof auth !== 'object') throw new TypeError(`expected auth as an object, got ${describe(auth)}`)
    checkFields(auth, AUTH_FIELDS, 'auth')
    return resolveCredentials(auth, 'auth')
  }

  #headers(method: string, path: string, query: string, body: Uint8Array | undefined, credentials: ResolvedCredentials, idempotencyKey?: string, challenge?: string): Record<string, string> {
    const timestamp = Math.floor((this.#now() + this.#clockOffsetMs) / 1000)
    return credentialHeaders({
      method, authority: this.#authority, path, query, ...(body !== undefined ? { body } : {}), timestamp, nonce: newNonce(),
      ...(idempotencyKey !== undefined ? { idempotencyKey } : {}), ...(challenge !== undefined ? { challenge } : {}),
    }, credentials)
  }

  #learnServerTime(serverTime: number): void {
    // server_time is whole seconds: aim at the middle of that second.
    this.#clockOffsetMs = serverTime * 1000 + 500 - this.#now()
  }

  async #exchange(method: string, target: string, headers: Record<string, string>, body: EncodedBody | undefined, signal: AbortSignal | undefined, timeoutMs: number): Promise<Exchange> {
    signal?.throwIfAborted()
    const controller = new AbortController()
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort()
    }, timeoutMs)
    const onAbort = (): void => controller.abort(signal?.reason)
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      // Redirects are not followed: credentials go only to the origin the runtime was configured with.
      const response = await this.#fetch(`${this.#origin}${target}`, {
        method, headers, ...(body !== undefined ? { body } : {}), redirect: 'manual', signal: controller.signal,
      })
      return { status: response.status, headers: response.headers, text: await response.text() }
    } catch (err) {
      if (signal?.aborted === true) throw signal.reason
      throw networkError(this.#origin, err, timedOut)
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
  }
}

/** The credentials an authenticate frame can carry: a Mecha key (a development sender is a header). */
function frameCredentials(credentials: ResolvedCredentials, challenge: string | undefined): ResolvedCredentials {
  if (challenge !== undefined && credentials.devSender !== undefined) {
    throw new TypeError('expected a Mecha key for a WebSocket that authenticates in its first frame, got devSender (a header this WebSocket cannot send)')
  }
  return credentials
}

function parseOrigin(url: unknown): string {
  // A URL may carry userinfo or a query with a secret in it: those parts are never echoed.
  const shown = typeof url === 'string' && url.includes('@') ? 'a URL with userinfo' : describe(url)
  if (typeof url !== 'string') throw new TypeError(`expected options.url as an http(s) URL, got ${shown}`)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new TypeError(`expected options.url as an http(s) URL, got ${shown}`)
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TypeError(`expected options.url with http: or https:, got ${describe(parsed.protocol)}`)
  const extra = parsed.username !== '' || parsed.password !== '' ? 'credentials' : parsed.search !== '' ? 'a query' : parsed.hash !== '' ? 'a fragment' : parsed.pathname !== '/' ? `the path ${describe(parsed.pathname)}` : undefined
  if (extra !== undefined) throw new TypeError(`expected options.url as an origin (scheme, host, port), got one with ${extra}`)
  return parsed.origin
}

function resolveFetch(fetchOption: unknown): FetchLike {
  if (fetchOption !== undefined) {
    if (typeof fetchOption !== 'function') throw new TypeError(`expected options.fetch as a function, got ${describe(fetchOption)}`)
    return fetchOption as FetchLike
  }
  const builtin = (globalThis as { fetch?: typeof fetch }).fetch
  if (typeof builtin !== 'function') throw new TypeError('expected options.fetch: this runtime has no global fetch')
  // Bound: browsers refuse fetch called on another receiver.
  return (input, init) => builtin.call(globalThis, input, init)
}

function checkFields(object: object, allowed: ReadonlySet<string>, where: string): void {
  for (const name of Object.keys(object)) {
    if (!allowed.has(name)) throw new TypeError(`expected ${where} among ${[...allowed].join(', ')}, got unknown ${describe(name)}`)
  }
}

function wholeNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new TypeError(`expected ${name} as a whole number, got ${describe(value)}`)
  return value
}

function messageBody(message: OutgoingMessage): Record<string, unknown> {
  if (message === null || typeof message !== 'object') throw new TypeError(`expected a message object, got ${describe(message)}`)
  if (Object.hasOwn(message, 'id')) {
    throw new TypeError('expected no message.id: the gateway assigns message ids; pass idempotencyKey to make a retry idempotent')
  }
  checkFields(message, new Set(['to', 'kind', 'payload', 'idempotencyKey', 'reply_to', 'from', 'ttlSeconds', 'deliverAfter', 'receipts']), 'message')
  for (const name of ['to', 'kind'] as const) {
    if (typeof message[name] !== 'string' || message[name] === '') throw new TypeError(`expected message.${name} as a non-empty string, got ${describe(message[name])}`)
  }
  for (const name of ['reply_to', 'from'] as const) {
    if (message[name] !== undefined && typeof message[name] !== 'string') throw new TypeError(`expected message.${name} as a string, got ${describe(message[name])}`)
  }
  if (message.idempotencyKey !== undefined && (typeof message.idempotencyKey !== 'string' || !IDEMPOTENCY_KEY_RE.test(message.idempotencyKey))) {
    throw new TypeError(`expected message.idempotencyKey as 1 to 128 characters of A-Z a-z 0-9 . _ : -, got ${describe(message.idempotencyKey)}`)
  }
  if (message.payload === undefined) throw new TypeError('expected message.payload as a JSON value, got undefined')
  const body: Record<string, unknown> = { to: message.to, kind: message.kind, payload: message.payload }
  if (message.reply_to !== undefined) body.reply_to = message.reply_to
  if (message.from !== undefined) body.from = message.from
  Object.assign(body, sendLifecycleFields(message))
  return body
}

function serialize(body: unknown): EncodedBody {
  let text: string
  try {
    text = JSON.stringify(body)
  } catch (err) {
    throw new TypeError(`expected a JSON-serialisable body, got one that cannot be serialised (${err instanceof Error ? err.message : 'unknown'})`)
  }
  return encoder.encode(text)
}

function parseSuccess<T>(answer: Exchange): T {
  try {
    return JSON.parse(answer.text) as T
  } catch {
    throw new MechaError({ status: answer.status, code: 'UNAVAILABLE', reason: 'invalid_response', detail: `HTTP ${answer.status} with a body that is not JSON: is this a mecharim gateway?` })
  }
}

