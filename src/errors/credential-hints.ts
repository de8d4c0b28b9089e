import { TOKEN_LENGTH, TOKEN_PREFIX } from '../crypto/token.js'
import { DEV_OPERATOR_TOKEN_FILE } from '../dev/operator-token.js'

/**
 * The details of credential refusals that a newcomer most often earns: the wrong kind of token on a
 * surface, a token cut short when copied, a development token from another data directory. Each
 * says what was recognised and where it belongs. None quotes the token: only its prefix and length
 * are named, which any scanner sees too.
 */

const DEV_OPERATOR_PREFIX = 'mop_'
const OPERATOR_AUTHORIZATION = '`Authorization: Bearer <operator token>`'
const RUNTIME_AUTHORIZATION = '`Authorization: Mecha <token>` with a Mecha key (mecha_...) that an operator issues (`mecharim keys issue <mecha>`)'

/** Whether `token` is shaped as a Mecha key token (prefix only: length and checksum are checked elsewhere). */
export function looksLikeMechaKeyToken(token: string): boolean {
  return token.startsWith(TOKEN_PREFIX)
}

/** A runtime route refused a token that does not parse as a Mecha key token. */
export function runtimeTokenRefusal(token: string, reason: 'malformed' | 'checksum'): string {
  if (reason === 'checksum') return 'the token checksum does not match (truncated or mistyped token?)'
  if (looksLikeMechaKeyToken(token)) {
    if (token.length !== TOKEN_LENGTH) return `the token is ${token.length} characters long, a Mecha key token has ${TOKEN_LENGTH}: truncated when copied?`
    return 'the token is not a well-formed Mecha key token (mecha_<key id>_<secret>_<checksum>): mistyped when copied?'
  }
  const kind = token.startsWith(DEV_OPERATOR_PREFIX) ? 'this is the development operator token' : 'if this is an operator token'
  return `the token is not a Mecha key token (mecha_...); ${kind}, it belongs on the control plane as ${OPERATOR_AUTHORIZATION}. Runtime routes take ${RUNTIME_AUTHORIZATION}`
}

/** The control plane was sent a Mecha key token, with either scheme. */
export function mechaKeyOnControlPlane(): string {
  return `the token is a Mecha key token (mecha_...), a runtime credential: it belongs on runtime routes (/v1/messages, /v1/inbox, /v1/whoami). The control plane takes an operator token as ${OPERATOR_AUTHORIZATION}`
}

/** An operator token that no configured token matched; undefined when there is nothing to add. */
export function refusedOperatorTokenHint(token: string): string | undefined {
  if (looksLikeMechaKeyToken(token)) return mechaKeyOnControlPlane()
  if (token.startsWith(DEV_OPERATOR_PREFIX)) {
    return `the operator token is not recognised. A development server keeps its current operator token in MECHA_DATA_DIR/${DEV_OPERATOR_TOKEN_FILE}, `
      + 'and it changes with the data directory: read it again after a restart with another MECHA_DATA_DIR'
  }
  return undefined
}
