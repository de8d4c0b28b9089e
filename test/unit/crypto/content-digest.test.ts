import { describe, expect, it } from 'vitest'
import { verifyContentDigest } from '../../../src/crypto/verify-signature.js'

/*
 * The Content-Digest rule (verifyContentDigest), on the RFC 9530 content: `{"hello": "world"}` and a
 * line feed (Appendix B.1 and section 2 give its sha-256 and sha-512), and on zero bytes, whose
 * digests are the well-known SHA-256 and SHA-512 of the empty string (FIPS 180-4 examples).
 */
const CONTENT = new TextEncoder().encode('{"hello": "world"}\n')
const SHA256 = 'sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:'
const SHA512 = 'sha-512=:YMAam51Jz/jOATT6/zvHrLVgOYTGFy1d6GJiOHTohq4yP+pgk4vf2aCsyRZOtw8MjkM7iw7yZ/WkppmM44T3qg==:'
const EMPTY_SHA256 = 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:'
const EMPTY_SHA512 = 'sha-512=:z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==:'
const MD5 = 'md5=:AAAAAAAAAAAAAAAAAAAAAA==:'

const optional = { requireSha256: false }
const signedBody = { requireSha256: true }

describe('verifyContentDigest: accepted', () => {
  it.each([
    ['sha-256', SHA256],
    ['sha-512', SHA512],
    ['both, sha-512 first', `${SHA512}, ${SHA256}`],
    ['an unsupported algorithm beside sha-256 (ignored)', `${MD5}, ${SHA256}`],
  ])('%s over the RFC 9530 content', (_name, field) => {
    expect(verifyContentDigest(field, CONTENT, optional)).toEqual({ ok: true })
  })

  it('no field, when none is required', () => {
    expect(verifyContentDigest(undefined, CONTENT, optional)).toEqual({ ok: true })
    expect(verifyContentDigest(undefined, undefined, optional)).toEqual({ ok: true })
  })

  it('an absent body is zero bytes', () => {
    for (const body of [undefined, new Uint8Array(0)]) {
      expect(verifyContentDigest(EMPTY_SHA256, body, optional)).toEqual({ ok: true })
      expect(verifyContentDigest(`${EMPTY_SHA256}, ${EMPTY_SHA512}`, body, optional)).toEqual({ ok: true })
    }
  })

  it('sha-256 (with or without sha-512) when it is required', () => {
    expect(verifyContentDigest(SHA256, CONTENT, signedBody)).toEqual({ ok: true })
    expect(verifyContentDigest(`${SHA512}, ${SHA256}`, CONTENT, signedBody)).toEqual({ ok: true })
  })
})

describe('verifyContentDigest: bad_digest', () => {
  it.each([
    ['a wrong sha-256', EMPTY_SHA256, 'Content-Digest sha-256 does not match the body bytes'],
    ['a wrong sha-512', EMPTY_SHA512, 'Content-Digest sha-512 does not match the body bytes'],
    ['a right sha-256 and a wrong sha-512', `${SHA256}, ${EMPTY_SHA512}`, 'Content-Digest sha-512 does not match the body bytes'],
    ['a wrong sha-256 and a right sha-512', `${SHA512}, ${EMPTY_SHA256}`, 'Content-Digest sha-256 does not match the body bytes'],
    ['no supported algorithm', MD5, 'Content-Digest must use sha-256 or sha-512'],
  ])('%s', (_name, field, detail) => {
    expect(verifyContentDigest(field, CONTENT, optional)).toEqual({ ok: false, reason: 'bad_digest', detail })
  })

  it('a digest of content, with no body', () => {
    expect(verifyContentDigest(SHA256, undefined, optional)).toEqual({ ok: false, reason: 'bad_digest', detail: 'Content-Digest sha-256 does not match the body bytes' })
  })

  it('required: a missing field, or sha-512 without sha-256', () => {
    expect(verifyContentDigest(undefined, CONTENT, signedBody)).toEqual({ ok: false, reason: 'bad_digest', detail: 'a signed request with a body needs Content-Digest (sha-256)' })
    expect(verifyContentDigest(SHA512, CONTENT, signedBody)).toEqual({ ok: false, reason: 'bad_digest', detail: 'a signed request with a body needs a sha-256 member in Content-Digest' })
  })
})

describe('verifyContentDigest: malformed_credentials', () => {
  it.each([
    ['an empty field', ''],
    ['a wrong length', 'sha-256=:AAAA:'],
    ['a token instead of bytes', 'sha-256=abc'],
    ['an uppercase algorithm', SHA256.replace('sha-256', 'SHA-256')],
    ['a bad sha-512 beside a right sha-256', `${SHA256}, sha-512=:AAAA:`],
    ['a trailing U+00A0 (0xA0 as Node decodes it)', `${SHA256}\u00a0`],
  ])('%s, whether or not a digest is required', (_name, field) => {
    for (const opts of [optional, signedBody]) {
      expect(verifyContentDigest(field, CONTENT, opts)).toMatchObject({ ok: false, reason: 'malformed_credentials' })
    }
  })
})

describe('verifyContentDigest: arguments', () => {
  it('says what it expected', () => {
    expect(() => verifyContentDigest(1 as unknown as string, CONTENT, optional)).toThrow('expected Content-Digest as a string or undefined, got number')
    expect(() => verifyContentDigest(SHA256, 'body' as unknown as Uint8Array, optional)).toThrow('expected the body as a Uint8Array or undefined, got "body"')
    expect(() => verifyContentDigest(SHA256, CONTENT, {} as { requireSha256: boolean })).toThrow('expected opts.requireSha256 as a boolean, got undefined')
  })
})
