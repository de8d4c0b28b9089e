import { createHash, createHmac, createPrivateKey, randomBytes, sign } from 'node:crypto'
import { serializeContentDigest } from '../../crypto/content-digest.js'
import {
  MECHA_BODY_COMPONENTS, MECHA_COMPONENTS, MECHA_TAG, buildSignatureBase, serializeSignature, serializeSignatureInput,
  serializeSignatureParams, type MechaAlgorithm, type MechaSignatureParams,
} from '../../crypto/signature-base.js'

/**
 * The worked example of docs/protocol.md ("Worked example and test vectors"). Every value here is
 * published there, on purpose: the example must be reproducible by anyone, and so its key material
 * is public and worthless. No real secret ever enters this module (the tool has no secret input).
 */
export const WORKED_EXAMPLE = {
  keyId: 'mkexampleexampleexample234',
  authority: 'gateway.example.com',
  method: 'POST',
  path: '/v1/messages',
  timestamp: 1795300000,
  nonce: 'bWVjaGEtdjEtZXhhbXBsZS1ub25jZSE',
  body: '{"to":"executor","kind":"task.request","payload":{"task":"build"}}',
  /** 32 bytes of 0x01, base64url, with the `mss_` prefix. */
  signingSecret: 'mss_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE',
  /** RFC 8032 section 7.1, test 1. */
  ed25519Seed: 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A',
  ed25519PublicKey: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
} as const

export const EXAMPLE_WARNING = 'EXAMPLE ONLY. The key material below is the PUBLIC test material of docs/protocol.md '
  + '(HMAC secret = 32 bytes of 0x01; Ed25519 = RFC 8032 section 7.1 test key 1): anyone can forge signatures with it. '
  + 'Never register it on a real key and never use it in production. Unless given, the timestamp is the current time '
  + 'and the nonce fresh and random, as in a real request; pass the documented authority, timestamp and nonce to reproduce '
  + 'the worked example of docs/protocol.md.'

export interface SignedRequestExampleInput {
  alg: MechaAlgorithm
  /** The @authority signed (host, optional port, lowercase), e.g. the caller's gateway. */
  authority: string
  /** Mecha-Timestamp, unix seconds; default the current time. */
  timestamp?: number
  /** Mecha-Nonce, 22-128 base64url characters; default 16 random bytes. */
  nonce?: string
  /** Default POST. */
  method?: string
  /** Path and optional query, e.g. `/v1/inbox?wait=30`; default /v1/messages. */
  path?: string
  /** The exact JSON text of the body; default: the worked example's body for POST /v1/messages, else none. */
  body?: string
}

export interface SignedRequestExample {
  example_only: true
  warning: string
  reproduces_documented_example: boolean
  alg: MechaAlgorithm
  key_id: string
  test_key_material: Record<string, string>
  request: { method: string; authority: string; path: string; query: string; headers: Record<string, string>; body: string | null }
  covered_components: string[]
  signature_params: string
  signature_base: string
  /** The signature bytes, base64 (as in the Signature field). */
  signature: string
  http: string
  how_to_verify: string
}

const PATH_RE = /^\/[\x21-\x7e]{0,2047}$/
const METHOD_RE = /^[A-Z]{1,16}$/
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?'
/** A host name or IP literal and an optional port, as @authority is signed (RFC 9421 2.2.3: lowercase, no userinfo). */
export const AUTHORITY_RE = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9a-f:.]{2,45}\\])(?::(?:[0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?$`)
const NONCE_RE = /^[A-Za-z0-9_-]{22,128}$/

/** A signature-only mecha-v1 request built with the server's own signature-base code. */
export function buildSignedRequestExample(input: SignedRequestExampleInput): SignedRequestExample {
  const method = input.method ?? WORKED_EXAMPLE.method
  const target = input.path ?? WORKED_EXAMPLE.path
  if (!METHOD_RE.test(method)) throw new TypeError(`expected an uppercase HTTP method, got ${JSON.stringify(method)}`)
  if (!PATH_RE.test(target)) throw new TypeError(`expected a path starting with "/" in printable ASCII, got ${JSON.stringify(target)}`)
  const { authority } = input
  if (!AUTHORITY_RE.test(authority)) throw new TypeError(`expected an authority (lowercase host and optional port, e.g. gateway.example.com:8443), got ${JSON.stringify(authority)}`)
  const timestamp = input.timestamp ?? Math.floor(Date.now() / 1000)
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new TypeError(`expected a timestamp in whole unix seconds, got ${String(timestamp)}`)
  const nonce = input.nonce ?? randomBytes(16).toString('base64url')
  if (!NONCE_RE.test(nonce)) throw new TypeError('expected a nonce of 22 to 128 base64url characters')
  const body = input.body ?? (method === WORKED_EXAMPLE.method && target === WORKED_EXAMPLE.path ? WORKED_EXAMPLE.body : undefined)
  if (body !== undefined && !isJsonText(body)) throw new TypeError('expected the body as JSON text (application/json is the only body type)')

  const q = target.indexOf('?')
  const path = q === -1 ? target : target.slice(0, q)
  const query = q === -1 ? '?' : target.slice(q)
  const headers: Record<string, string> = {
    'mecha-timestamp': String(timestamp),
    'mecha-nonce': nonce,
  }
  if (body !== undefined) {
    headers['content-type'] = 'application/json'
    headers['content-digest'] = serializeContentDigest('sha-256', createHash('sha256').update(body, 'utf8').digest())
  }
  const components = [...MECHA_COMPONENTS, ...(body !== undefined ? MECHA_BODY_COMPONENTS : [])]
  const params: MechaSignatureParams = { keyid: WORKED_EXAMPLE.keyId, alg: input.alg, tag: MECHA_TAG }
  const signatureParams = serializeSignatureParams(components, params)
  const base = buildSignatureBase(components, signatureParams, {
    method, authority, path, query, header: (name) => headers[name],
  })
  if (!base.ok) throw new TypeError(base.detail)

  const signature = input.alg === 'hmac-sha256'
    ? createHmac('sha256', Buffer.from(WORKED_EXAMPLE.signingSecret, 'utf8')).update(base.value, 'utf8').digest()
    : sign(null, Buffer.from(base.value, 'utf8'), exampleEd25519PrivateKey())
  headers['signature-input'] = serializeSignatureInput(components, params)
  headers.signature = serializeSignature(signature)

  return {
    example_only: true,
    warning: EXAMPLE_WARNING,
    reproduces_documented_example: method === WORKED_EXAMPLE.method && target === WORKED_EXAMPLE.path && body === WORKED_EXAMPLE.body
      && authority === WORKED_EXAMPLE.authority && timestamp === WORKED_EXAMPLE.timestamp && nonce === WORKED_EXAMPLE.nonce,
    alg: input.alg,
    key_id: WORKED_EXAMPLE.keyId,
    test_key_material: input.alg === 'hmac-sha256'
      ? { signing_secret: WORKED_EXAMPLE.signingSecret, note: 'PUBLIC TEST VALUE (32 bytes of 0x01). The HMAC key is the UTF-8 bytes of this whole string, prefix included.' }
      : { ed25519_private_seed: WORKED_EXAMPLE.ed25519Seed, ed25519_public_key: WORKED_EXAMPLE.ed25519PublicKey, note: 'PUBLIC TEST VALUES (RFC 8032 section 7.1, test 1), base64url.' },
    request: { method, authority, path, query, headers, body: body ?? null },
    covered_components: components,
    signature_params: signatureParams,
    signature_base: base.value,
    signature: signature.toString('base64'),
    http: httpText(method, authority, target, headers, body),
    how_to_verify: input.alg === 'hmac-sha256'
      ? 'HMAC-SHA256 with key = UTF-8 bytes of signing_secret over the UTF-8 bytes of signature_base equals the signature.'
      : 'Ed25519 (RFC 8032, pure) over the UTF-8 bytes of signature_base verifies with ed25519_public_key (raw 32 bytes, base64url).',
  }
}

/** Whether `text` is a JSON document (the only body type the service accepts). */
export function isJsonText(text: unknown): boolean {
  if (typeof text !== 'string') return false
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

function exampleEd25519PrivateKey(): ReturnType<typeof createPrivateKey> {
  return createPrivateKey({
    key: { kty: 'OKP', crv: 'Ed25519', d: WORKED_EXAMPLE.ed25519Seed, x: WORKED_EXAMPLE.ed25519PublicKey },
    format: 'jwk',
  })
}

function httpText(method: string, authority: string, target: string, headers: Record<string, string>, body: string | undefined): string {
  const order = ['content-type', 'mecha-timestamp', 'mecha-nonce', 'content-digest', 'signature-input', 'signature']
  const lines = [`${method} ${target} HTTP/1.1`, `Host: ${authority}`]
  for (const name of order) {
    const value = headers[name]
    if (value !== undefined) lines.push(`${httpName(name)}: ${value}`)
  }
  return `${lines.join('\n')}\n\n${body ?? ''}`
}

function httpName(name: string): string {
  return name.split('-').map((part) => `${part.charAt(0).toUpperCase()}${part.slice(1)}`).join('-')
}
