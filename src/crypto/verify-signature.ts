import { createHmac, hash as oneShotHash, createPublicKey, verify, type KeyObject } from 'node:crypto'
import { constantTimeEqual } from './compare.js'
import { parseContentDigest, type ContentDigest } from './content-digest.js'

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

export type ContentDigestVerdict = { ok: true } | { ok: false; reason: 'bad_digest' | 'malformed_credentials'; detail: string }

const NO_BODY = new Uint8Array(0)

/**
 * The Content-Digest rule, for every runtime request (token-only or signed, any method): when the
 * field is sent, every sha-256 and sha-512 member must match the raw body bytes (no body is zero
 * bytes). A malformed field is `malformed_credentials`; a mismatch, or a field with neither
 * algorithm, is `bad_digest`. With `requireSha256` (a signed request with a body: the signature
 * covers the body only through this field) the field and its sha-256 member must be there.
 * The reasons are catalogue reasons: this function is the only place the rule is decided.
 */
export function verifyContentDigest(header: string | undefined, body: Uint8Array | undefined, opts: { requireSha256: boolean }): ContentDigestVerdict {
  if (header !== undefined && typeof header !== 'string') throw new TypeError(`expected Content-Digest as a string or undefined, got ${describe(header)}`)
  if (body !== undefined && !(body instanceof Uint8Array)) throw new TypeError(`expected the body as a Uint8Array or undefined, got ${describe(body)}`)
  if (opts === null || typeof opts !== 'object' || typeof opts.requireSha256 !== 'boolean') {
    throw new TypeError(`expected opts.requireSha256 as a boolean, got ${opts === null || typeof opts !== 'object' ? describe(opts) : describe(opts.requireSha256)}`)
  }
  if (header === undefined) {
    return opts.requireSha256 ? { ok: false, reason: 'bad_digest', detail: 'a signed request with a body needs Content-Digest (sha-256)' } : { ok: true }
  }
  const parsed = parseContentDigest(header)
  if (!parsed.ok) {
    return parsed.reason === 'malformed'
      ? { ok: false, reason: 'malformed_credentials', detail: 'Content-Digest is malformed (RFC 9530: e.g. sha-256=:<base64 of the 32-byte digest>:)' }
      : { ok: false, reason: 'bad_digest', detail: 'Content-Digest must use sha-256 or sha-512' }
  }
  if (opts.requireSha256 && !parsed.digests.some((digest) => digest.algorithm === 'sha-256')) {
    return { ok: false, reason: 'bad_digest', detail: 'a signed request with a body needs a sha-256 member in Content-Digest' }
  }
  for (const digest of parsed.digests) {
    if (!contentDigestMatches(digest, body ?? NO_BODY)) return { ok: false, reason: 'bad_digest', detail: `Content-Digest ${digest.algorithm} does not match the body bytes` }
  }
  return { ok: true }
}

/** Recompute one digest over the raw body bytes and compare in constant time. */
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
