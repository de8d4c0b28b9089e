import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { isOperatorName } from '../config/load.js'
import { OPERATOR_SCOPES, type OperatorIdentity, type OperatorScope, type StaticOperatorToken } from '../config/schema.js'
import { constantTimeEqual } from '../crypto/compare.js'
import { sha256 } from '../crypto/digest.js'
import { looksLikeMechaKeyToken, mechaKeyOnControlPlane, refusedOperatorTokenHint } from '../errors/credential-hints.js'
import { Problem } from '../errors/problem.js'
import { UNTHROTTLED, operatorTokenIdentity, throttledRefusal, type AuthFailureGuard, type AuthFailureLog } from '../ratelimit/auth-failures.js'

/** A custom operator token verifier (Vault, OIDC, ...), loaded from MECHA_OPERATOR_VERIFIER. */
export interface OperatorVerifier {
  verifyToken(token: string): Promise<unknown> | unknown
}

export class VerifierFault extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause })
    this.name = 'VerifierFault'
  }
}

export interface OperatorAuthenticatorOptions {
  /**
   * Failed operator authentications are counted per client address here, and an address over the
   * limit is refused before any token comparison, except for a token that authenticated from it in
   * the last 24 hours. Give it the gateway's guard (`deps.authFailures`), so guessing on either
   * surface throttles the address on both. Without it nothing is throttled.
   */
  authFailures?: AuthFailureGuard
}

/** What an operator request presented: its Authorization header and how many times it was sent. */
export interface PresentedAuthorization {
  header: string | undefined
  count: number
}

/** Where authentication reports a throttle, a limiter fault or a verifier fault. */
export interface OperatorAuthLog extends AuthFailureLog {
  error(details: object, message: string): void
}

/**
 * Static tokens first (SHA-256 of the presented token compared in constant time against every
 * configured digest, without early exit), then the custom verifier if one is configured.
 */
export class OperatorAuthenticator {
  #tokens: readonly StaticOperatorToken[]
  readonly #verifier: OperatorVerifier | undefined
  readonly #authFailures: AuthFailureGuard | undefined

  constructor(tokens: readonly StaticOperatorToken[], verifier?: OperatorVerifier, options: OperatorAuthenticatorOptions = {}) {
    this.#tokens = tokens
    this.#verifier = verifier
    this.#authFailures = options.authFailures
  }

  /**
   * Put a new static token set in force (MECHA_OPERATOR_TOKENS_FILE reloaded). One assignment: a
   * request compares against the old set or the new one, never a mix.
   */
  replaceTokens(tokens: readonly StaticOperatorToken[]): void {
    this.#tokens = tokens
  }

  get tokens(): readonly StaticOperatorToken[] {
    return this.#tokens
  }

  /**
   * Authenticate an operator request from `address`: its identity, or the refusal to send (a value;
   * unexpected faults are thrown). The order: the header's syntax (no I/O), then the address's
   * failed-authentication budget (no I/O; a token known from this address is still evaluated), then
   * the token. Every 401 counts as a failed authentication; a verifier fault (503) counts nothing.
   */
  async authenticateRequest(presented: PresentedAuthorization, address: string, log: OperatorAuthLog): Promise<OperatorIdentity | Problem> {
    const token = bearerToken(presented)
    const admitted = this.#authFailures?.admit(address, typeof token === 'string' ? operatorTokenIdentity(token) : undefined, Date.now()) ?? UNTHROTTLED
    if ('retryAfterSeconds' in admitted) return throttledRefusal(admitted)
    if (token instanceof Problem) {
      await admitted.failed(log)
      return token
    }
    let identity: OperatorIdentity | null
    try {
      identity = await this.authenticate(token)
    } catch (err) {
      admitted.release()
      if (!(err instanceof VerifierFault)) throw err
      log.error({ err }, 'operator verifier failed')
      return new Problem('verifier_unavailable')
    }
    if (identity === null) {
      await admitted.failed(log)
      return new Problem('invalid_operator_token', refusedOperatorTokenHint(token))
    }
    admitted.succeeded()
    return identity
  }

  async authenticate(token: string): Promise<OperatorIdentity | null> {
    const digest = sha256(token)
    let found: OperatorIdentity | null = null
    for (const candidate of this.#tokens) {
      if (constantTimeEqual(candidate.digest, digest) && found === null) found = candidate.identity
    }
    if (found !== null || this.#verifier === undefined) return found
    let result: unknown
    try {
      result = await this.#verifier.verifyToken(token)
    } catch (err) {
      throw new VerifierFault('operator verifier threw', err)
    }
    return checkVerifierResult(result)
  }
}

function bearerToken(presented: PresentedAuthorization): string | Problem {
  if (presented.header === undefined || presented.header === '') return new Problem('missing_credentials')
  if (presented.count > 1) return new Problem('malformed_credentials', 'the authorization header is sent more than once')
  const match = /^Bearer +(\S+)$/i.exec(presented.header)
  if (match === null) {
    const mecha = /^Mecha +(\S+)$/i.exec(presented.header)
    return new Problem('malformed_credentials', mecha !== null && looksLikeMechaKeyToken(mecha[1] as string) ? mechaKeyOnControlPlane() : 'expected `Authorization: Bearer <operator token>`')
  }
  return match[1] as string
}

function checkVerifierResult(result: unknown): OperatorIdentity | null {
  if (result === null || result === undefined || result === false) return null
  if (typeof result !== 'object') throw new VerifierFault(`verifyToken must return {operator, scopes} or null, got ${typeof result}`)
  const { operator, scopes } = result as { operator?: unknown; scopes?: unknown }
  if (typeof operator !== 'string' || !isOperatorName(operator)) throw new VerifierFault('verifyToken returned an invalid operator name')
  if (!Array.isArray(scopes)) throw new VerifierFault('verifyToken returned no scopes array')
  const known = scopes.filter((s): s is OperatorScope => (OPERATOR_SCOPES as readonly unknown[]).includes(s))
  return { operator, scopes: [...new Set(known)] }
}

/** Import a verifier module from any path; fails at start-up if it does not export verifyToken. */
export async function loadOperatorVerifier(path: string): Promise<OperatorVerifier> {
  const mod = (await import(pathToFileURL(resolve(path)).href)) as { verifyToken?: unknown; default?: { verifyToken?: unknown } }
  const fn = mod.verifyToken ?? mod.default?.verifyToken
  if (typeof fn !== 'function') throw new Error(`MECHA_OPERATOR_VERIFIER: ${path} does not export a verifyToken(token) function`)
  return { verifyToken: fn as OperatorVerifier['verifyToken'] }
}
