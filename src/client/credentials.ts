import * as ed from '@noble/ed25519'
import { hmac } from '@noble/hashes/hmac.js'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { KEY_ID_RE, MECHA_ID_RE, TOKEN_RE } from '../crypto/id-formats.js'
import type { MechaAlgorithm } from '../crypto/signature-base.js'
import { describe, describeSecret, fromBase64url } from './encoding.js'
import type { MechaCredentials } from './types.js'

// noble-ed25519 v3 signs synchronously once it has a SHA-512; an application may already have set one.
ed.hashes.sha512 ??= sha512

const SECRET_RE = /^[\x21-\x7e]+$/
const encoder = new TextEncoder()

/** Signs a signature base (its ASCII bytes) with one registered algorithm. */
export interface Signer {
  readonly alg: MechaAlgorithm
  sign(base: Uint8Array): Uint8Array
}

/** Credentials checked once and turned into what a request needs. */
export interface ResolvedCredentials {
  readonly keyId: string
  readonly token: string | undefined
  readonly signer: Signer | undefined
  /** Development only: the mecha sent as `Mecha-Dev-Sender` instead of a key. */
  readonly devSender?: string
}

/**
 * Which credentials one call uses: the method's own `auth`, else its session's, else the client's.
 * The precedence of the MACP SDK (method > session > client), declared here only.
 */
export function credentialsForCall(method: ResolvedCredentials | undefined, session: ResolvedCredentials | undefined, client: ResolvedCredentials): ResolvedCredentials {
  return method ?? session ?? client
}

/**
 * Check credentials ("expected X, got Y"; a secret is described, never shown) and prepare them.
 * `where` names the object in messages (`options`, `auth`).
 */
export function resolveCredentials(credentials: MechaCredentials, where: string): ResolvedCredentials {
  if (credentials === null || typeof credentials !== 'object') throw new TypeError(`expected ${where} as an object, got ${describe(credentials)}`)
  const { token, keyId, signingSecret, privateKey, devSender } = credentials
  if (devSender !== undefined) {
    if (typeof devSender !== 'string' || !MECHA_ID_RE.test(devSender)) throw new TypeError(`expected ${where}.devSender as a mecha id, got ${describe(devSender)}`)
    if (token !== undefined || keyId !== undefined || signingSecret !== undefined || privateKey !== undefined) {
      throw new TypeError(`expected ${where}.devSender alone, got it with a key's credentials`)
    }
    return { keyId: '', token: undefined, signer: undefined, devSender }
  }

  let tokenKeyId: string | undefined
  if (token !== undefined) {
    const match = typeof token === 'string' ? TOKEN_RE.exec(token) : null
    if (match === null) throw new TypeError(`expected ${where}.token as a Mecha token (mecha_<key id>_<secret>_<checksum>), got ${describeSecret(token)}`)
    tokenKeyId = match[1]
  }
  if (keyId !== undefined) {
    if (typeof keyId !== 'string' || !KEY_ID_RE.test(keyId)) throw new TypeError(`expected ${where}.keyId as a key id (mk + 24 base32 characters), got ${describe(keyId)}`)
    if (tokenKeyId !== undefined && tokenKeyId !== keyId) throw new TypeError(`expected ${where}.keyId to be the token's key id ${tokenKeyId}, got ${describe(keyId)}`)
  }
  if (signingSecret !== undefined && privateKey !== undefined) {
    throw new TypeError(`expected one of ${where}.signingSecret and ${where}.privateKey, got both`)
  }

  const signer = signingSecret !== undefined ? hmacSigner(signingSecret, where) : privateKey !== undefined ? ed25519Signer(privateKey, where) : undefined
  if (token === undefined && signer === undefined) {
    throw new TypeError(`expected ${where}.token, or ${where}.keyId with ${where}.signingSecret or ${where}.privateKey, got none`)
  }
  const resolvedKeyId = keyId ?? tokenKeyId
  if (resolvedKeyId === undefined) throw new TypeError(`expected ${where}.keyId with a signing credential, got undefined`)
  return { keyId: resolvedKeyId, token, signer }
}

function hmacSigner(secret: unknown, where: string): Signer {
  if (typeof secret !== 'string' || !SECRET_RE.test(secret)) {
    throw new TypeError(`expected ${where}.signingSecret as a non-empty string without spaces, got ${describeSecret(secret)}`)
  }
  // The gateway's HMAC key is the UTF-8 bytes of the signing secret as issued (mss_...).
  const key = encoder.encode(secret)
  return { alg: 'hmac-sha256', sign: (base) => hmac(sha256, key, base) }
}

function ed25519Signer(privateKey: unknown, where: string): Signer {
  let seed: Uint8Array | undefined
  if (privateKey instanceof Uint8Array) seed = privateKey.length === 32 ? privateKey.slice() : undefined
  else if (typeof privateKey === 'string') seed = fromBase64url(privateKey.trim())
  if (seed === undefined || seed.length !== 32) {
    throw new TypeError(`expected ${where}.privateKey as a 32-byte Ed25519 seed (Uint8Array or unpadded base64url), got ${describeSecret(privateKey)}`)
  }
  const key = seed
  return { alg: 'ed25519', sign: (base) => ed.sign(base, key) }
}
