import type { KeyRecord, MechaRecord, SignatureAlgorithm } from '../model.js'
import type { Problem } from '../errors/problem.js'
import type { AuthAttempt } from '../ratelimit/auth-failures.js'

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

/** Filled in step by step; a step relies only on what the steps before it set. */
export interface GatewayContext {
  readonly request: RuntimeRequest
  /** Server time, unix milliseconds, read once per request. */
  readonly now: number
  credentials?: PresentedCredentials
  timestamp?: number
  nonce?: string
  key?: KeyRecord
  mecha?: MechaRecord
  /** The failed-authentication guard's admission of this request (admitAuthAttempt), until it is settled. */
  authAttempt?: AuthAttempt
  /** How the request proved itself, once it has. */
  verifiedBy?: { token: boolean; signature: SignatureAlgorithm | null }
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
