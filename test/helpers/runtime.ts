import { createHash, createHmac, randomBytes, sign, type KeyObject } from 'node:crypto'
import {
  MECHA_BODY_COMPONENTS, MECHA_COMPONENTS, buildSignatureBase, serializeSignature, serializeSignatureInput, serializeSignatureParams,
  type MechaSignatureParams,
} from '../../src/crypto/signature-base.js'

/**
 * A test-side runtime signer on node:crypto, deliberately independent of the SDK in src/client, so a
 * bug in one cannot hide a bug in the other.
 */
export interface RuntimeCredentials {
  keyId: string
  token?: string
  signingSecret?: string
  privateKey?: KeyObject
}

export interface RuntimeRequestOptions {
  method: string
  /** Path and query, e.g. `/v1/inbox?wait=1`. */
  url: string
  body?: string | Buffer
  credentials: RuntimeCredentials
  /** `token`, a signature algorithm, or `token+<alg>`. Default: the token. */
  auth?: 'token' | 'hmac-sha256' | 'ed25519' | 'token+hmac-sha256' | 'token+ed25519'
  authority: string
  timestamp?: number
  nonce?: string
  contentType?: string
  /** Override the covered components. */
  components?: string[]
  /** Extra signature parameters. */
  params?: Partial<MechaSignatureParams>
  /** Headers added before signing (so a signature can cover them). */
  extraHeaders?: Record<string, string>
  /** Alter headers after signing (tampering). */
  tamper?: (headers: Record<string, string>) => void
}

export function freshNonce(): string {
  return randomBytes(18).toString('base64url')
}

export function runtimeHeaders(options: RuntimeRequestOptions): Record<string, string> {
  const auth = options.auth ?? 'token'
  const headers: Record<string, string> = {
    'mecha-timestamp': String(options.timestamp ?? Math.floor(Date.now() / 1000)),
    'mecha-nonce': options.nonce ?? freshNonce(),
  }
  Object.assign(headers, options.extraHeaders)
  const body = options.body === undefined ? undefined : Buffer.from(options.body)
  if (body !== undefined) {
    headers['content-type'] = options.contentType ?? 'application/json'
  }
  if (auth.startsWith('token')) {
    if (options.credentials.token === undefined) throw new Error('no token for token auth')
    headers.authorization = `Mecha ${options.credentials.token}`
  }
  const alg = auth.replace(/^token\+?/, '') as '' | 'hmac-sha256' | 'ed25519'
  if (alg !== '') {
    // A Content-Digest given in extraHeaders is signed as given (several members, a wrong one).
    if (body !== undefined) headers['content-digest'] ??= `sha-256=:${createHash('sha256').update(body).digest('base64')}:`
    const components = options.components ?? [
      ...MECHA_COMPONENTS, ...(body !== undefined ? MECHA_BODY_COMPONENTS : []), ...(headers['idempotency-key'] !== undefined ? ['idempotency-key'] : []),
    ]
    const params: MechaSignatureParams = { keyid: options.credentials.keyId, alg, tag: 'mecha-v1', ...options.params }
    const q = options.url.indexOf('?')
    const base = buildSignatureBase(components, serializeSignatureParams(components, params), {
      method: options.method,
      authority: options.authority,
      path: q === -1 ? options.url : options.url.slice(0, q),
      query: q === -1 ? '?' : options.url.slice(q),
      header: (name) => headers[name],
    })
    if (!base.ok) throw new Error(base.detail)
    let signature: Buffer
    if (alg === 'hmac-sha256') {
      if (options.credentials.signingSecret === undefined) throw new Error('no signing secret')
      signature = createHmac('sha256', Buffer.from(options.credentials.signingSecret, 'utf8')).update(base.value).digest()
    } else {
      if (options.credentials.privateKey === undefined) throw new Error('no private key')
      signature = sign(null, Buffer.from(base.value), options.credentials.privateKey)
    }
    headers['signature-input'] = serializeSignatureInput(components, params)
    headers.signature = serializeSignature(signature)
  }
  options.tamper?.(headers)
  return headers
}

/** Send a runtime request over real HTTP. */
export async function runtimeFetch(baseUrl: string, options: Omit<RuntimeRequestOptions, 'authority'> & { authority?: string }): Promise<Response> {
  const authority = options.authority ?? new URL(baseUrl).host
  const headers = runtimeHeaders({ ...options, authority })
  const body = options.body === undefined ? undefined : new Uint8Array(Buffer.from(options.body))
  return fetch(`${baseUrl}${options.url}`, { method: options.method, headers, ...(body !== undefined ? { body } : {}) })
}

/** The WebSocket subprotocol of first-frame authentication on GET /v1/connect (docs/protocol.md), as the wire spells it. */
export const FRAME_AUTH_PROTOCOL = 'mecha.frame-auth'

export interface AuthenticateFrameOptions extends Omit<RuntimeRequestOptions, 'method' | 'url' | 'body' | 'components' | 'extraHeaders'> {
  /** The challenge the signature covers (the server's, unless a test signs another one). */
  challenge: string
  /** The upgrade's path and query; default `/v1/connect`. */
  url?: string
  /** Leave `mecha-challenge` out of the covered components (a signature made for the header path). */
  uncovered?: boolean
}

/**
 * The `authenticate` frame for a first-frame-authenticated WebSocket, signed by this independent
 * signer: the credential headers of `GET /v1/connect` with `mecha-challenge` covered, as frame fields.
 */
export function authenticateFrame(options: AuthenticateFrameOptions): Record<string, unknown> {
  const auth = options.auth ?? 'token'
  const signed = auth !== 'token'
  const headers = runtimeHeaders({
    ...options, method: 'GET', url: options.url ?? '/v1/connect',
    extraHeaders: { 'mecha-challenge': options.challenge },
    ...(signed ? { components: [...MECHA_COMPONENTS, ...(options.uncovered === true ? [] : ['mecha-challenge'])] } : {}),
  })
  const frame: Record<string, unknown> = { type: 'authenticate', timestamp: Number(headers['mecha-timestamp']), nonce: headers['mecha-nonce'] }
  if (headers.authorization !== undefined) frame.token = headers.authorization.replace(/^Mecha /, '')
  if (headers['signature-input'] !== undefined) frame.signature_input = headers['signature-input']
  if (headers.signature !== undefined) frame.signature = headers.signature
  return frame
}
