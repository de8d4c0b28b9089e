/**
 * Public types of the runtime SDK. Wire shapes (messages, acceptance, whoami) keep the gateway's
 * snake_case field names: they are the JSON the gateway sends, untouched.
 */

// Type-only: erased at compile time, so the client stays free of the server's runtime code.
import type { DeliveredMessage as TransportDeliveredMessage, Message as StoredMessage } from '../transport/types.js'
import type { SessionRecord, SessionState as StoredSessionState } from '../sessions/types.js'
import type { MechaError } from './errors.js'

/**
 * A Mecha key as a runtime holds it. Give a token, a signing credential (`signingSecret` or
 * `privateKey`, with `keyId`), or a token together with one signing credential (both are sent).
 */
export interface MechaCredentials {
  /**
   * The key's token, `mecha_<key id>_<secret>_<checksum>`, sent as `Authorization: Mecha <token>`.
   * Shown once when the key is issued (or rotated).
   */
  token?: string
  /**
   * The key id (`mk` + 24 base32 characters): the `keyid` of a signature. Optional with a token,
   * whose key id is used (a different one is refused).
   */
  keyId?: string
  /**
   * The key's HMAC signing secret (`mss_...`, shown once at issue). Requests are signed with
   * hmac-sha256 over its UTF-8 bytes. Not together with `privateKey`.
   */
  signingSecret?: string
  /**
   * An Ed25519 private key registered on the key (by its public key): the 32-byte seed as a
   * Uint8Array or as unpadded base64url (43 characters, what `mecharim keygen` writes). Requests are
   * signed with ed25519. Not together with `signingSecret`.
   */
  privateKey?: Uint8Array | string
  /**
   * Development only: act as this mecha through `Mecha-Dev-Sender` instead of a key. Only a server
   * started with MECHA_ALLOW_DEV_SENDER_HEADER=1 (never in production) accepts it. Not together with
   * any other credential.
   */
  devSender?: string
}

/** The subset of `fetch` the client calls. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>

/** An event as both the WHATWG WebSocket and the `ws` package deliver it. */
export interface WebSocketEventLike {
  readonly type: string
  /** `message`: the frame (a string for text frames). */
  data?: unknown
  /** `close`: the close code and reason. */
  code?: number
  reason?: string
  /** `error`: a description, when the implementation gives one. */
  message?: string
}

/** What the client needs from a WebSocket instance (WHATWG and `ws` both provide it). */
export interface WebSocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: WebSocketEventLike) => void): void
}

/**
 * A WebSocket constructor that sends extra headers on the upgrade request, taking them as
 * `new WebSocket(url, { headers })`: the `ws` package, and the undici-based global WebSocket of Node
 * 22+ (and Bun). Browsers' WebSocket cannot send headers (see {@link FrameWebSocketConstructor}).
 */
export type WebSocketConstructor = new (url: string, options: { headers: Record<string, string> }) => WebSocketLike

/**
 * A WebSocket constructor as browsers have it, `new WebSocket(url, protocols)`, which cannot send
 * headers: {@link MechaClient.connect} authenticates it in its first frame (`webSocketAuth: 'frame'`).
 * The `ws` package and undici's WebSocket take this form too.
 */
export type FrameWebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike

/** How {@link MechaClient.connect} authenticates: credential headers on the upgrade, or the socket's first frame. */
export type WebSocketAuth = 'headers' | 'frame'

export interface MechaClientOptions extends MechaCredentials {
  /**
   * The gateway's origin, `http(s)://host[:port]`, without path, query or credentials (signatures
   * cover `@path` as the gateway receives it, so a path prefix cannot be added here).
   */
  url: string
  /**
   * `host[:port]` covered by signatures as `@authority`: the host of the gateway's configured public
   * URL (MECHA_PUBLIC_URL). Default: the host of `url`. Set it when you reach the gateway by another
   * address than its public one (a tunnel, an internal name).
   */
  authority?: string
  /** A fetch implementation. Default: `globalThis.fetch`. */
  fetch?: FetchLike
  /**
   * A WebSocket constructor for {@link MechaClient.connect}: one that accepts `{ headers }` (see
   * {@link WebSocketConstructor}), or, with `webSocketAuth: 'frame'`, any that takes protocols (see
   * {@link FrameWebSocketConstructor}). Default: the global WebSocket on Node and Bun (headers); in
   * browsers, Deno and other runtimes whose WebSocket cannot send headers, the global WebSocket with
   * first-frame authentication; else the `ws` package, loaded on first use.
   */
  WebSocket?: WebSocketConstructor | FrameWebSocketConstructor
  /**
   * How {@link MechaClient.connect} authenticates its WebSocket. `'headers'`: the upgrade request
   * carries the credential headers, like every call. `'frame'`: the upgrade offers the
   * `mecha.frame-auth` subprotocol and no credentials; the gateway sends a challenge and the client
   * answers with one `authenticate` frame whose signature covers it (docs/protocol.md). Default:
   * `'frame'` where the WebSocket cannot send headers (the global WebSocket of a browser, Deno, a
   * worker), else `'headers'`. Not with `devSender` (a header; the frame carries a Mecha key).
   */
  webSocketAuth?: WebSocketAuth
  /**
   * PEM certificate(s) of a private certificate authority to trust for an `https:` gateway (Node
   * only; read the file yourself, e.g. `readFileSync('ca.pem', 'utf8')`). Calls then go through the
   * `undici` package's fetch and `connect()` through the `ws` package, both given this CA. Not
   * combinable with `fetch` or `WebSocket`: give those their own trust settings instead.
   */
  ca?: string
  /**
   * Milliseconds to wait for an answer (added to `wait` for inbox long-polls); also bounds the
   * WebSocket handshake. Default 30000.
   */
  timeoutMs?: number
  /**
   * For tests: the clock, in milliseconds since the epoch. Default `Date.now`. The client still
   * corrects it by the offset it learns from a `stale_timestamp` refusal.
   */
  now?: () => number
}

/** Options every call takes. */
export interface CallOptions {
  /** Credentials for this call instead of the client's (same fields as the constructor's). */
  auth?: MechaCredentials
  /** Abort the call; the promise rejects with the signal's reason. */
  signal?: AbortSignal
}

/** A message to send. `from` may be omitted: the gateway sets it to the key's mecha. */
export interface OutgoingMessage {
  /** Recipient mecha id. */
  to: string
  /** Message kind, e.g. `task.create`. */
  kind: string
  /** Any JSON value. */
  payload: unknown
  /**
   * Sent as the Idempotency-Key header (and covered by the signature): a retry of the same message with
   * the same key returns the first acceptance and delivers nothing twice; the same key with another
   * message is refused (`idempotency_key_reused`). Scoped to the sender; the recipient sees it as
   * `idempotency_key`. 1 to 128 of A-Z a-z 0-9 . _ : -. The message id is always the gateway's.
   */
  idempotencyKey?: string
  /** Id of the message this one answers. */
  reply_to?: string
  /** Must equal the key's mecha when given. */
  from?: string
  /**
   * Sent as `ttl_seconds` (1 to 2592000): the message is never delivered later than this after it was
   * accepted; then it moves to the recipient's dead letters (reason `expired`).
   */
  ttlSeconds?: number
  /**
   * Sent as `deliver_after`: not delivered before this time, unix seconds or a Date (rounded up to the
   * next whole second); at most 7 days ahead.
   */
  deliverAfter?: number | Date
  /** Sent as `receipts`: false, and the sender gets no `mecha.delivery.failed` receipt when the message is dead-lettered. */
  receipts?: boolean
}

/** The gateway's 202 answer to a sent message: the accepted message without its payload and reply_to. */
export type MessageAccepted = Pick<StoredMessage, 'id' | 'from' | 'to' | 'kind' | 'accepted_at'>

/** A delivered message, as the gateway's transport hands it out (`delivery_count` is 1 on first delivery). */
export type Message = TransportDeliveredMessage

/**
 * Options of {@link MechaClient.connect}. The callbacks run synchronously; one that throws ends the
 * connection with its error.
 */
export interface ConnectOptions extends CallOptions {
  /**
   * Reconnect by itself, with fresh credentials (new timestamp, nonce and signature), when the gateway
   * asks the connection to authenticate again (`reauthenticate`, at MECHA_WS_MAX_AGE_SECONDS) or the
   * connection is lost (network failure, 1001 going away, 1006). Messages received and not yet
   * iterated are kept; acknowledgements not yet confirmed are sent again on the new connection.
   * A close for the credentials (`invalid_key`, `signature_required`, `bad_signature`) never
   * reconnects: the iterator throws a {@link ConnectionRevokedError}. `false`: end at the first close
   * (the iterator throws `reauthenticate` or `connection_closed`). Default `true`, with the defaults
   * of {@link ReconnectOptions}.
   */
  reconnect?: boolean | ReconnectOptions
  /** Called before each reconnect attempt. */
  onReconnecting?: (event: ReconnectingEvent) => void
  /** Called when the connection is open again after a reconnect, with the new `ready` frame. */
  onReconnect?: (ready: ConnectionReady) => void
}

export interface ReconnectOptions {
  /** Consecutive failed attempts before the connection ends with the last error. Default 10; `Infinity` for no limit. */
  maxAttempts?: number
  /** The wait before the first retry of a lost connection; it doubles per failed attempt (with jitter). Default 500. */
  initialDelayMs?: number
  /** The longest wait between attempts. Default 30000. */
  maxDelayMs?: number
}

export interface ReconnectingEvent {
  /** 1 for the first attempt after a close, counting up while attempts fail; back to 1 once one succeeds. */
  attempt: number
  /** How long until this attempt. */
  delayMs: number
  /**
   * Why: reason `reauthenticate` (the gateway's maximum connection age: routine), `connection_closed`
   * (lost; the close code is in `detail`), or the error of the failed previous attempt.
   */
  cause: MechaError
}

export interface InboxOptions {
  /** Seconds to wait for a message when the inbox is empty (long-poll; the gateway allows 0-30). Default 0. */
  wait?: number
  /** At most this many messages (the gateway allows 1-100; default 10). */
  limit?: number
}

export interface AckResult {
  /** How many of the ids were still pending and are now acknowledged. */
  acknowledged: number
}

export interface NackOptions {
  /** Visible again after this many seconds (0 to 43200). Default: the recipient's backoff. */
  delaySeconds?: number
}

export interface RejectOptions {
  /** Kept with the dead letter as its `detail` (at most 256 characters). */
  reason?: string
}

export interface DeadLetterOptions {
  /** At most this many (the gateway allows 1-100; default 10). */
  limit?: number
  /** A message id: the `next` cursor of the previous page. */
  after?: string
}

/** Why a message was dead-lettered. */
export type DeadLetterReason = 'max_deliveries' | 'expired' | 'rejected'

/** A dead letter as the gateway shows it (GET /v1/inbox/dead). */
export interface DeadLetter {
  /** The message as it was accepted. */
  message: StoredMessage
  reason: DeadLetterReason
  /** How many times it had been delivered. */
  deliveries: number
  /** ISO 8601. */
  dead_lettered_at: string
  /** When it is removed by itself (the recipient's `dead_letter_ttl_seconds`), ISO 8601. */
  expires_at: string
  /** The recipient's `reason` of a reject, when it gave one. */
  detail?: string
}

/** One page of dead letters, by message id. */
export interface DeadLetterPage {
  dead_letters: DeadLetter[]
  /** The `after` of the next page; null at the end. */
  next: string | null
}

export interface NackResult {
  /** How many of the ids were delivered and unacknowledged, and will be delivered again. */
  nacked: number
}

export interface ExtendResult {
  /** How many of the ids were delivered and unacknowledged, and stay invisible longer. */
  extended: number
}

export interface RejectResult {
  /** How many of the ids were delivered and unacknowledged, and are now dead letters. */
  rejected: number
}

export interface RedriveResult {
  /** How many of the ids were dead letters and are back in the inbox. */
  redriven: number
}

export interface PurgeResult {
  /** How many of the ids were dead letters and are removed. */
  purged: number
}

export interface WhoAmI {
  mecha: string
  key_id: string
  permissions: {
    recipients: string[]
    kinds: string[]
    max_message_bytes: number
    /** What the key may do with sessions: start them (`can_start`, `max_open` open at once, in `modes`) and write modes through the gateway (`can_manage_modes`). */
    sessions: { can_start: boolean; max_open: number | null; modes: string[]; can_manage_modes: boolean }
  }
  signature: { required: boolean; algorithms: string[] }
  rate_limit: { requests: number; per_seconds: number } | null
  expires_at: string | null
  /** What authenticated this request: the token, a signature algorithm, or both. */
  verified_by: { token: boolean; signature: string | null }
  /** Unix seconds. */
  server_time: number
}

/** The `ready` frame that opens a WebSocket session. */
export interface ConnectionReady {
  mecha: string
  key_id: string
  /** Unix seconds. */
  server_time: number
}

/** A session's state as the gateway reports it (`expired`: open in the store but past `expires_at`). */
export type SessionState = StoredSessionState

/**
 * A session as the gateway describes it (GET /v1/sessions/{id} and every session answer): the
 * stored record without the key that started it, `state` as of the answer.
 */
export type SessionView = Omit<SessionRecord, 'initiator_key'>

/** What {@link MechaClient.startSession} sends as POST /v1/sessions. */
export interface SessionStart {
  /** A mode name from the registry, e.g. `decision.v1`; the key's `permissions.sessions.modes` must match it. */
  mode: string
  /** Mecha ids (1 to 31) besides the caller, who is added when absent and is the initiator. */
  participants: readonly string[]
  /** What the session is for, for people (at most 1024 characters). */
  intent?: string
  /** Seconds until the session expires (the gateway allows 10 to 604800). */
  ttlSeconds: number
}

/** A message within a session: one of the session's kinds, to one participant or to every other one. */
export interface SessionMessage {
  /** A participant; omitted: one message to each other participant (each its own id). */
  to?: string
  /** One of the session's kinds (`session.*` kinds are the gateway's own). */
  kind: string
  /** Any JSON value. */
  payload: unknown
  /** Id of the message this one answers. */
  replyTo?: string
  /** Sent as the Idempotency-Key header, as in {@link OutgoingMessage.idempotencyKey}; kept per recipient. */
  idempotencyKey?: string
}

/** The 202 answer to a session message sent to one participant. */
export type SessionMessageAccepted = MessageAccepted & { session: string }

/** The 202 answer to a session message sent to every other participant: one message id per recipient. */
export interface SessionFanOutAccepted {
  session: string
  from: string
  kind: string
  accepted_at: string
  messages: { id: string; to: string }[]
}

export interface SessionCommit {
  /** Any JSON value (at most 4 KiB serialised), delivered to every participant with `session.committed`. */
  outcome: unknown
  reason?: string
}

export interface SessionCancel {
  reason?: string
}

/** Options of {@link MechaClient.startSession} and {@link MechaClient.session}. */
export interface SessionOptions {
  /**
   * The session's credentials: used by every call through the session object unless the call gives
   * its own `auth`; without them, the client's. (With startSession they also start the session.)
   */
  auth?: MechaCredentials
}

export interface SessionListOptions {
  /** Which of the caller's sessions: open, closed or all (omitted: the gateway's default). */
  state?: 'open' | 'closed' | 'all'
  /** 1 to 100 (gateway default 50). */
  limit?: number
  /** A session id: the `next` cursor of the previous page. */
  after?: string
}

export interface SessionList {
  /** The caller's sessions (as a participant), newest first. */
  sessions: SessionView[]
  next: string | null
}
