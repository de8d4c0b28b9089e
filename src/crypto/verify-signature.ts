import { createHmac, hash as oneShotHash, createPublicKey, verify, type KeyObject } from 'node:crypto'
import { constantTimeEqual } from './compare.js'
import type { ContentDigest } from './content-digest.js'

/**
 * Server-side verification for mecha-v1 (RFC 9421 section 3.3.4 hmac-sha256, section 3.3.6 ed25519)
 * and RFC 9530 Content-Digest, on node:crypto (OpenSSL) for speed. A wrong signature, of any length
 * or content, is `false`; only a wrong argument type (a programming error) throws.
 */

/** HMAC-SHA256 over the signature base (ASCII), compared in constant time after a length check. */
export function verifyHmacSha256(base: string, key: Uint8Array, signature: Uint8Array): boolean {
  checkBase(base)
  if (!(key instanceof Uint8Array) || key.length === 0) throw new TypeError(`expected a non-empty Uint8Array key, got ${describe(key)}`)
  checkSignature(signature)
  const mac = createHmac('sha256', key).update(base, 'utf8').digest()
  return constantTimeEqual(mac, signature)
}

/** A KeyObject for a raw 32-byte Ed25519 public key (RFC 8032), via JWK (RFC 8037). */
export function ed25519PublicKeyObject(raw32: Uint8Array): KeyObject {
  if (!(raw32 instanceof Uint8Array) || raw32.length !== 32) {
    throw new TypeError(`expected a 32-byte Ed25519 public key, got ${describe(raw32)}`)
  }
  const x = Buffer.from(raw32.buffer, raw32.byteOffset, raw32.byteLength).toString('base64url')
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' })
}

/** Ed25519 (pure, no prehash) over the signature base; a signature that is not 64 bytes is `false`. */
export function verifyEd25519(base: string, key: KeyObject, signature: Uint8Array): boolean {
  checkBase(base)
  if (key === null || typeof key !== 'object' || key.type !== 'public' || key.asymmetricKeyType !== 'ed25519') {
    throw new TypeError(`expected an Ed25519 public KeyObject, got ${describe(key)}`)
  }
  checkSignature(signature)
  if (signature.length !== 64) return false
  try {
    return verify(null, Buffer.from(base, 'utf8'), key, signature)
  } catch {
    return false
  }
}

/** Recompute the digest over the raw body bytes and compare in constant time. */
export function contentDigestMatches(parsed: ContentDigest, body: Uint8Array): boolean {
  if (parsed === null || typeof parsed !== 'object' || !(parsed.digest instanceof Uint8Array)) {
    throw new TypeError(`expected a parsed Content-Digest, got ${describe(parsed)}`)
  }
  if (!(body instanceof Uint8Array)) throw new TypeError(`expected the body as a Uint8Array, got ${describe(body)}`)
  const hash = parsed.algorithm === 'sha-256' ? 'sha256' : parsed.algorithm === 'sha-512' ? 'sha512' : undefined
  if (hash === undefined) throw new TypeError(`expected sha-256 or sha-512, got ${describe(parsed.algorithm)}`)
  return constantTimeEqual(oneShotHash(hash, body, 'buffer') as unknown as Uint8Array, parsed.digest)
}

function checkBase(base: string): void {
  if (typeof base !== 'string') throw new TypeError(`expected the signature base as a string, got ${describe(base)}`)
}

function checkSignature(signature: Uint8Array): void {
  if (!(signature instanceof Uint8Array)) throw new TypeError(`expected the signature as a Uint8Array, got ${describe(signature)}`)
}

function describe(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length} bytes`
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'object' && 'type' in value && 'asymmetricKeyType' in value) {
    return `a ${String(value.type)} ${String(value.asymmetricKeyType)} key`
  }
  return typeof value
}
