import { createPrivateKey, createPublicKey, sign } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  buildSignatureBase,
  decodeBase64,
  parseMechaSignature,
  parseSignatureHeaders,
  type SignedRequest,
} from '../../src/crypto/signature-base.js'
import { ed25519PublicKeyObject, verifyEd25519, verifyHmacSha256 } from '../../src/crypto/verify-signature.js'

/*
 * RFC 9421 Appendix B known-answer vectors. Values are copied from the RFC text:
 * - B.2 "test-request" (POST /foo?param=Value&Pet=dog, Host example.com, body {"hello": "world"});
 * - B.1.5 test-shared-secret (the brief called it B.1.4; in the RFC it is B.1.5);
 * - B.1.4 test-key-ed25519 (public and private PEM);
 * - B.2.5 (hmac-sha256, label sig-b25) and B.2.6 (ed25519, label sig-b26): the Signature-Input and
 *   Signature fields and the signature base the RFC prints (RFC 8792 line wrapping undone).
 */

const TEST_REQUEST_HEADERS: Record<string, string> = {
  host: 'example.com',
  date: 'Tue, 20 Apr 2021 02:07:55 GMT',
  'content-type': 'application/json',
  'content-digest': 'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
  'content-length': '18',
}

const TEST_REQUEST: SignedRequest = {
  method: 'POST',
  authority: 'example.com',
  path: '/foo',
  query: '?param=Value&Pet=dog',
  header: (name) => TEST_REQUEST_HEADERS[name],
}

const TEST_SHARED_SECRET =
  'uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ=='

const TEST_KEY_ED25519_PUBLIC_PEM = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----`

const TEST_KEY_ED25519_PRIVATE_PEM = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----`

const B25 = {
  signatureInput: 'sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
  signature: 'sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:',
  base: [
    '"date": Tue, 20 Apr 2021 02:07:55 GMT',
    '"@authority": example.com',
    '"content-type": application/json',
    '"@signature-params": ("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
  ].join('\n'),
}

const B26 = {
  signatureInput:
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
  signature: 'sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:',
  base: [
    '"date": Tue, 20 Apr 2021 02:07:55 GMT',
    '"@method": POST',
    '"@path": /foo',
    '"@authority": example.com',
    '"content-type": application/json',
    '"content-length": 18',
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
  ].join('\n'),
}

function flipBit(bytes: Uint8Array, index: number): Uint8Array {
  const copy = Uint8Array.from(bytes)
  copy[index] = copy[index]! ^ 0x01
  return copy
}

function flipCharBit(text: string, index: number): string {
  return text.slice(0, index) + String.fromCharCode(text.charCodeAt(index) ^ 0x01) + text.slice(index + 1)
}

/** Parse the RFC's fields with the plain RFC 9421 parser and rebuild the base from the test request. */
function reproduce(vector: typeof B25, label: string): { base: string; signature: Uint8Array; signatureParams: string } {
  const parsed = parseSignatureHeaders(vector.signatureInput, vector.signature, label)
  if (!parsed.ok) throw new Error(parsed.detail)
  const base = buildSignatureBase(parsed.value.components, parsed.value.signatureParams, TEST_REQUEST)
  if (!base.ok) throw new Error(base.detail)
  return { base: base.value, signature: parsed.value.signature, signatureParams: parsed.value.signatureParams }
}

describe('RFC 9421 B.2.5: hmac-sha256 with test-shared-secret (sig-b25)', () => {
  const key = decodeBase64(TEST_SHARED_SECRET)!

  it('decodes the B.1.5 shared secret (64 bytes)', () => {
    expect(key).toHaveLength(64)
  })
  it('reproduces the published signature base', () => {
    const { base, signatureParams } = reproduce(B25, 'sig-b25')
    expect(signatureParams).toBe(B25.signatureInput.slice('sig-b25='.length))
    expect(base).toBe(B25.base)
  })
  it('verifies the published signature', () => {
    const { base, signature } = reproduce(B25, 'sig-b25')
    expect(signature).toHaveLength(32)
    expect(verifyHmacSha256(base, key, signature)).toBe(true)
  })
  it('refuses a base or a signature with one bit flipped, and a truncated signature', () => {
    const { base, signature } = reproduce(B25, 'sig-b25')
    expect(verifyHmacSha256(flipCharBit(base, 10), key, signature)).toBe(false)
    expect(verifyHmacSha256(base, key, flipBit(signature, 0))).toBe(false)
    expect(verifyHmacSha256(base, key, flipBit(signature, 31))).toBe(false)
    expect(verifyHmacSha256(base, key, signature.subarray(0, 31))).toBe(false)
    expect(verifyHmacSha256(base, flipBit(key, 0), signature)).toBe(false)
  })
  it('is not a mecha-v1 signature (wrong label, no alg or tag)', () => {
    expect(parseMechaSignature(B25.signatureInput, B25.signature)).toMatchObject({ ok: false, reason: 'malformed' })
  })
})

describe('RFC 9421 B.2.6: ed25519 with test-key-ed25519 (sig-b26)', () => {
  // The raw public key is the last 32 bytes of the B.1.4 SubjectPublicKeyInfo (RFC 8410).
  const spki = createPublicKey(TEST_KEY_ED25519_PUBLIC_PEM).export({ format: 'der', type: 'spki' })
  const raw = new Uint8Array(spki.subarray(spki.length - 32))
  const key = ed25519PublicKeyObject(raw)

  it('builds the same key from the raw bytes as from the published PEM', () => {
    expect(key.export({ format: 'jwk' })).toEqual(createPublicKey(TEST_KEY_ED25519_PUBLIC_PEM).export({ format: 'jwk' }))
  })
  it('reproduces the published signature base', () => {
    const { base, signatureParams } = reproduce(B26, 'sig-b26')
    expect(signatureParams).toBe(B26.signatureInput.slice('sig-b26='.length))
    expect(base).toBe(B26.base)
  })
  it('verifies the published signature', () => {
    const { base, signature } = reproduce(B26, 'sig-b26')
    expect(signature).toHaveLength(64)
    expect(verifyEd25519(base, key, signature)).toBe(true)
  })
  it('the published private key signs the base to the published signature (Ed25519 is deterministic)', () => {
    const { base, signature } = reproduce(B26, 'sig-b26')
    const produced = sign(null, Buffer.from(base), createPrivateKey(TEST_KEY_ED25519_PRIVATE_PEM))
    expect(new Uint8Array(produced)).toEqual(signature)
  })
  it('refuses a base or a signature with one bit flipped, and wrong lengths, without throwing', () => {
    const { base, signature } = reproduce(B26, 'sig-b26')
    expect(verifyEd25519(flipCharBit(base, 10), key, signature)).toBe(false)
    expect(verifyEd25519(base, key, flipBit(signature, 0))).toBe(false)
    expect(verifyEd25519(base, key, flipBit(signature, 63))).toBe(false)
    expect(verifyEd25519(base, key, signature.subarray(0, 63))).toBe(false)
    expect(verifyEd25519(base, key, new Uint8Array(65))).toBe(false)
    expect(verifyEd25519(base, key, new Uint8Array(64).fill(0xff))).toBe(false)
    expect(verifyEd25519(base, key, new Uint8Array(0))).toBe(false)
  })
})
