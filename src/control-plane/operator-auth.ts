import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { isOperatorName } from '../config/load.js'
import { OPERATOR_SCOPES, type OperatorIdentity, type OperatorScope, type StaticOperatorToken } from '../config/schema.js'
import { constantTimeEqual } from '../crypto/compare.js'
import { sha256 } from '../crypto/digest.js'
import type { AuthFailureGuard } from '../ratelimit/auth-failures.js'

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
   * limit is refused before any token comparison. Give it the gateway's guard (`deps.authFailures`),
   * so guessing on either surface throttles the address on both. Without it nothing is throttled.
   */
  authFailures?: AuthFailureGuard
}

/**
 * Static tokens first (SHA-256 of the presented token compared in constant time against every
 * configured digest, without early exit), then the custom verifier if one is configured.
 */
export class OperatorAuthenticator {
  readonly #tokens: readonly StaticOperatorToken[]
  readonly #verifier: OperatorVerifier | undefined
  /** Read by the control-plane plugin, which sees the client address and sends the refusals. */
  readonly authFailures: AuthFailureGuard | undefined

  constructor(tokens: readonly StaticOperatorToken[], verifier?: OperatorVerifier, options: OperatorAuthenticatorOptions = {}) {
    this.#tokens = tokens
    this.#verifier = verifier
    this.authFailures = options.authFailures
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
