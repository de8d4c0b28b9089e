import type { KeyRecord, MechaRecord, SignatureAlgorithm } from '../model.js'
import type { Problem } from '../errors/problem.js'
import type { AuthAttempt } from '../ratelimit/auth-failures.js'

/** The runtime routes, by name (the Fastify routes carry it in `config.runtimeRoute`). */
export const RUNTIME_ROUTES = [
  'send', 'inbox', 'ack', 'whoami', 'connect', 'put-mode',
  'start-session', 'list-sessions', 'get-session', 'commit-session', 'cancel-session',
  'nack', 'extend', 'reject', 'dead-letters', 'redrive', 'purge',
] as const
export type RuntimeRoute = (typeof RUNTIME_ROUTES)[number]

/** What the gateway steps see of an HTTP request: plain data, so steps are testable without Fastify. */
export interface RuntimeRequest {
  method: string
  /** The path as received, without the query. */
  path: string
  /** RFC 9421 `@query`: `?` followed by the raw query, or `?` alone. */
  query: string
  /** A header's value (names lowercase); undefined when absent. */
  header(name: string): string | undefined
  /** How many times a header was sent (names lowercase): duplicates of credential headers are refused. */
  headerCount(name: string): number
  /** The exact body bytes, when there is a body. */
  body: Uint8Array | undefined
  /** The client's address: the socket's peer, or from X-Forwarded-For as MECHA_TRUST_PROXY allows. */
  clientAddress: string
  /** The parsed JSON body (after the pipeline has checked it), the parsed query. */
  readonly json: unknown
  readonly queryParams: Readonly<Record<string, unknown>>
  /** Why the body could not be parsed (media type, JSON, nesting): answered after authentication, so the nonce rule holds. */
  readonly bodyProblem: Problem | undefined
  /** The route schema's verdict on body and query (Fastify validates; the pipeline decides when to answer). */
  readonly validationError: Error | undefined
  /** The route's path parameters (the mode route's `name`); absent where a route has none. */
  readonly params?: Readonly<Record<string, unknown>>
  /** The request id (X-Request-Id), for the audit trail of a change a key makes. */
  readonly requestId?: string
  /** Aborted when the client goes away or the server shuts down (long waits end). */
  readonly signal: AbortSignal
  /** The request asks for a WebSocket upgrade. */
  readonly upgrade: boolean
  /** The TCP connection (a WebSocket slot is held until it closes). */
  readonly connection: import('node:net').Socket
  /**
   * The authenticate frame of a WebSocket authenticated in its first frame: the challenge the server
   * sent on that socket (the `mecha-challenge` header reads it, and a signature must cover it).
   * Undefined for every HTTP request.
   */
  readonly challenge?: string
}

/** A connection's authorization, kept true for its life (connection-authorization.ts). */
export interface AuthorizationWatch {
  /** Re-check now: the refusal that ends the connection, or undefined. */
  check(): Promise<Problem | undefined>
  readonly ended: Problem | undefined
  close(): void
}

export interface PresentedSignature {
  components: string[]
  keyid: string
  alg: SignatureAlgorithm
  created?: number
  expires?: number
  nonce?: string
  /** The serialized inner list, as the `@signature-params` line needs it. */
  signatureParams: string
  signature: Uint8Array
}

export interface PresentedCredentials {
  keyId: string
  /** The secret part of a presented token. */
  tokenSecret?: string
  signature?: PresentedSignature
}

/**
 * What exactly proved the request: which token generation, which signature algorithm and which
 * generation or public key. Kept for the life of a connection, so that a change that would refuse a
 * new request with the same credential (a rotation past that generation, a removed public key, a
 * policy that now demands a signature) ends the connection too (steps/check-proof.ts).
 */
export interface Proof {
  /** Acting through Mecha-Dev-Sender (development): only the mecha's own status is re-checked. */
  devSender?: string
  tokenGeneration?: number
  signature?: { alg: SignatureAlgorithm; generation?: number; publicKey?: string }
}

/** Filled in step by step; a step relies only on what the steps before it set. */
export interface GatewayContext {
  readonly request: RuntimeRequest
  /**
   * The route the request reached (its Fastify route's `config.runtimeRoute`). Steps decide by it, never
   * by the path as sent: a percent-encoded path (`/%76%31/messages`) reaches the same route.
   */
  readonly route: RuntimeRoute
  /** Server time, unix milliseconds, read once per request. */
  readonly now: number
  credentials?: PresentedCredentials
  timestamp?: number
  nonce?: string
  key?: KeyRecord
  mecha?: MechaRecord
  /** Set once Content-Digest, if sent, matched the body: a signature is only verified after it. */
  contentDigestChecked?: true
  /** The failed-authentication guard's admission of this request (admitAuthAttempt), until it is settled. */
  authAttempt?: AuthAttempt
  /** How the request proved itself, once it has. */
  verifiedBy?: { token: boolean; signature: SignatureAlgorithm | null }
  /** What verified, generation by generation (see Proof). */
  proof: Proof
  /**
   * A refusal that depends on the key, decided before the secret was proven, for a request whose only
   * credential is a signature: it is answered as `bad_signature` where the signature would have been
   * verified (after the body), so neither the answer nor its moment says anything about the key.
   */
  keyRefusal?: Problem
  /** The mecha a Mecha-Dev-Sender request acts as (development only): the credential steps are skipped. */
  devSender?: string
  /**
   * A GET /v1/connect upgrade that offered first-frame authentication: the steps after
   * `frame-handshake` do not run on it, they run on its authenticate frame (frame-handshake.ts).
   */
  frameHandshake?: true
  /** Every presented credential verified (token, signature, Content-Digest): from here on the nonce is recorded, exactly once. */
  authenticated: boolean
  /** The nonce has been recorded (or its claim answered): the one-nonce rule's latch. */
  nonceClaimed: boolean
  /** POST /v1/messages: the sender's Idempotency-Key, once the message-identity step read it. */
  idempotencyKey?: string
  /**
   * POST /v1/messages in a session: the session (read by the session-membership step) and the mechas
   * the message goes to (the one `to`, or every other participant). Without a session: unset.
   */
  session?: import('../sessions/types.js').SessionRecord
  deliveries?: readonly string[]
  /** POST /v1/sessions: the mode the session runs (the session-lookup step read it). */
  sessionMode?: import('../model.js').ModeRecord
  /** What the route answers once every step passed (the last step of each route sets it). */
  response?: { status: number; body: unknown; headers?: Record<string, string> }
}

/** A step returns a Problem to refuse (a value, not a throw); faults (store down) are thrown. */
export type StepResult = Problem | undefined

/** A step's view of what it may need; each step takes only its part. */
export type Step<D> = (ctx: GatewayContext, deps: D) => StepResult | Promise<StepResult>

/** Narrow a context field a previous step must have set. */
export function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`gateway step ordering: ${what} is not set yet`)
  return value
}
