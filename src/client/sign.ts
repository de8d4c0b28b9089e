import { sha256 } from '@noble/hashes/sha2.js'
import { serializeContentDigest } from '../crypto/content-digest.js'
import {
  MECHA_CHALLENGE_COMPONENT, MECHA_TAG, buildSignatureBase, coveredComponents, serializeSignature, serializeSignatureInput,
  serializeSignatureParams, type MechaSignatureParams,
} from '../crypto/signature-base.js'
import { serializeIdempotencyKey } from '../idempotency-key.js'
import { resolveCredentials, type ResolvedCredentials } from './credentials.js'
import { describe, toBase64url } from './encoding.js'
import type { MechaCredentials } from './types.js'

/** A request as it will go on the wire, before its credential headers. */
export interface RequestToSign {
  /** As sent, e.g. `POST`. */
  method: string
  /** `host[:port]` of the gateway's public URL (the signature's `@authority`). */
  authority: string
  /** The absolute path as sent, e.g. `/v1/inbox`. */
  path: string
  /** The query as sent, with its leading `?` (e.g. `?wait=5`), or `''` for none. */
  query: string
  /** The exact body bytes that will be sent. */
  body?: Uint8Array
  /** Content-Type of the body. Default `application/json`. */
  contentType?: string
  /** Unix seconds (Mecha-Timestamp). */
  timestamp: number
  /** A fresh nonce (Mecha-Nonce); see {@link newNonce}. */
  nonce: string
  /** Sent as the Idempotency-Key header (POST /v1/messages), covered by the signature. */
  idempotencyKey?: string
  /**
   * GET /v1/connect authenticated in its first frame: the `challenge` the gateway sent on the socket.
   * A signature covers it as `mecha-challenge`; it is not among the headers returned (the gateway
   * knows it), and the headers go in the authenticate frame, not on a request.
   */
  challenge?: string
}

const encoder = new TextEncoder()
const CHALLENGE_RE = /^[A-Za-z0-9_-]{22,128}$/
const NONCE_BYTES = 18 // 144 random bits: the gateway wants at least 128

/** A fresh Mecha-Nonce: 144 random bits, base64url. */
export function newNonce(): string {
  return toBase64url(globalThis.crypto.getRandomValues(new Uint8Array(NONCE_BYTES)))
}

/**
 * The credential headers for a request (Mecha-Timestamp, Mecha-Nonce, Authorization, Content-Type,
 * Content-Digest, Idempotency-Key, Signature-Input, Signature), for callers that send requests their own way. With a
 * signing credential the request is signed per mecha-v1 (RFC 9421, label `mecha`, tag `mecha-v1`).
 */
export function signRequest(request: RequestToSign, credentials: MechaCredentials): Record<string, string> {
  return credentialHeaders(request, resolveCredentials(credentials, 'credentials'))
}

export function credentialHeaders(request: RequestToSign, credentials: ResolvedCredentials): Record<string, string> {
  checkRequest(request)
  const { body } = request
  // Development only: the mecha named instead of any key (no timestamp, nonce or signature needed).
  if (credentials.devSender !== undefined) return { 'mecha-dev-sender': credentials.devSender, ...(body !== undefined ? { 'content-type': request.contentType ?? 'application/json' } : {}) }
  const headers: Record<string, string> = { 'mecha-timestamp': String(request.timestamp), 'mecha-nonce': request.nonce }
  if (body !== undefined) headers['content-type'] = request.contentType ?? 'application/json'
  if (request.idempotencyKey !== undefined) headers['idempotency-key'] = serializeIdempotencyKey(request.idempotencyKey)
  if (credentials.token !== undefined) headers.authorization = `Mecha ${credentials.token}`
  const { signer } = credentials
  if (signer === undefined) return headers

  const hasBody = body !== undefined && body.length > 0
  if (hasBody) headers['content-digest'] = serializeContentDigest('sha-256', sha256(body))
  const { challenge } = request
  const components = coveredComponents(hasBody, request.idempotencyKey !== undefined, challenge !== undefined)
  const params: MechaSignatureParams = { keyid: credentials.keyId, alg: signer.alg, tag: MECHA_TAG }
  const base = buildSignatureBase(components, serializeSignatureParams(components, params), {
    method: request.method,
    authority: request.authority,
    path: request.path,
    query: request.query,
    header: (name) => (name === MECHA_CHALLENGE_COMPONENT ? challenge : Object.hasOwn(headers, name) ? headers[name] : undefined),
  })
  if (!base.ok) throw new TypeError(`cannot sign this request: ${base.detail}`)
  headers['signature-input'] = serializeSignatureInput(components, params)
  headers.signature = serializeSignature(signer.sign(encoder.encode(base.value)))
  return headers
}

function checkRequest(request: RequestToSign): void {
  if (request === null || typeof request !== 'object') throw new TypeError(`expected a request, got ${describe(request)}`)
  for (const name of ['method', 'authority', 'path', 'query', 'nonce'] as const) {
    if (typeof request[name] !== 'string') throw new TypeError(`expected request.${name} as a string, got ${describe(request[name])}`)
  }
  if (!Number.isSafeInteger(request.timestamp) || request.timestamp < 0) {
    throw new TypeError(`expected request.timestamp as unix seconds, got ${describe(request.timestamp)}`)
  }
  if (request.body !== undefined && !(request.body instanceof Uint8Array)) {
    throw new TypeError(`expected request.body as a Uint8Array, got ${describe(request.body)}`)
  }
  if (request.challenge !== undefined && (typeof request.challenge !== 'string' || !CHALLENGE_RE.test(request.challenge))) {
    throw new TypeError(`expected request.challenge as the gateway's challenge (base64url), got ${describe(request.challenge)}`)
  }
}
