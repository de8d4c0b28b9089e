import { runtimeTokenRefusal } from '../../errors/credential-hints.js'
import { Problem } from '../../errors/problem.js'
import { parseToken } from '../../crypto/token.js'
import { KEY_ID_RE } from '../../crypto/id-formats.js'
import { parseMechaSignature } from '../../crypto/signature-base.js'
import type { SignatureAlgorithm } from '../../model.js'
import type { GatewayContext, PresentedCredentials, StepResult } from '../context.js'

const SINGLE_HEADERS = ['authorization', 'mecha-timestamp', 'mecha-nonce', 'signature', 'signature-input', 'content-digest', 'content-type']
const TIMESTAMP_RE = /^[0-9]{1,15}$/
const NONCE_RE = /^[A-Za-z0-9_-]{22,128}$/
const AUTHORIZATION_RE = /^(Mecha|Bearer) +(\S+)$/i

/**
 * read the credential headers, syntax only (no store, no crypto). Establishes which key the
 * request claims, its timestamp and nonce. Everything malformed is refused here, before any lookup.
 */
export function parseCredentials(ctx: GatewayContext): StepResult {
  const { request } = ctx
  for (const name of SINGLE_HEADERS) {
    if (request.headerCount(name) > 1) return new Problem('malformed_credentials', `the ${name} header is sent more than once`)
  }
  const authorization = request.header('authorization')
  const signatureInput = request.header('signature-input')
  const signatureHeader = request.header('signature')
  if (authorization === undefined && signatureInput === undefined && signatureHeader === undefined) {
    return new Problem('missing_credentials', 'send `Authorization: Mecha <token>` and/or an RFC 9421 signature')
  }

  const credentials: Partial<PresentedCredentials> = {}
  if (authorization !== undefined) {
    const match = AUTHORIZATION_RE.exec(authorization)
    if (match === null) return new Problem('malformed_credentials', 'expected `Authorization: Mecha <token>`')
    const token = parseToken(match[2] as string)
    if (!token.ok) return new Problem('malformed_credentials', runtimeTokenRefusal(match[2] as string, token.reason))
    credentials.keyId = token.value.keyId
    credentials.tokenSecret = token.value.secret
  }
  if (signatureInput !== undefined || signatureHeader !== undefined) {
    if (signatureInput === undefined || signatureHeader === undefined) {
      return new Problem('malformed_credentials', 'Signature and Signature-Input must be sent together')
    }
    const parsed = parseMechaSignature(signatureInput, signatureHeader)
    if (!parsed.ok) return new Problem('malformed_credentials', parsed.detail)
    const { components, params, signatureParams, signature } = parsed.value
    // Checked here, before any lookup: an arbitrary keyid must never reach the store.
    if (!KEY_ID_RE.test(params.keyid)) return new Problem('malformed_credentials', 'the signature keyid is not a Mecha key id (mk + 24 base32 characters)')
    if (credentials.keyId !== undefined && credentials.keyId !== params.keyid) {
      return new Problem('malformed_credentials', 'the signature keyid does not match the token\'s key')
    }
    credentials.keyId = params.keyid
    credentials.signature = {
      components, keyid: params.keyid, alg: params.alg as SignatureAlgorithm, signatureParams, signature,
      ...(params.created !== undefined ? { created: params.created } : {}),
      ...(params.expires !== undefined ? { expires: params.expires } : {}),
      ...(params.nonce !== undefined ? { nonce: params.nonce } : {}),
    }
  }

  const timestamp = request.header('mecha-timestamp')
  if (timestamp === undefined) return new Problem('malformed_credentials', 'the Mecha-Timestamp header is required (unix seconds)')
  if (!TIMESTAMP_RE.test(timestamp)) return new Problem('malformed_credentials', 'Mecha-Timestamp must be unix time in whole seconds')
  const nonce = request.header('mecha-nonce')
  if (nonce === undefined) return new Problem('malformed_credentials', 'the Mecha-Nonce header is required')
  if (!NONCE_RE.test(nonce)) return new Problem('malformed_credentials', 'Mecha-Nonce must be 22 to 128 base64url characters')

  ctx.credentials = credentials as PresentedCredentials
  ctx.timestamp = Number(timestamp)
  ctx.nonce = nonce
  return undefined
}
