import { describe, expect, it } from 'vitest'
import { base32, fromBase64url } from '../../../src/crypto/encoding.js'
import { KEY_ID_RE } from '../../../src/crypto/id-formats.js'
import { newEventId, newKeyId } from '../../../src/crypto/ids.js'
import { newToken, parseToken, tokenDigest, TOKEN_LENGTH } from '../../../src/crypto/token.js'
import { SecretSealer, newSigningSecret } from '../../../src/crypto/sealed-secret.js'
import { constantTimeEqual } from '../../../src/crypto/compare.js'

describe('base32 (RFC 4648 section 10 vectors, lowercase, unpadded)', () => {
  it.each([['', ''], ['f', 'my'], ['fo', 'mzxq'], ['foo', 'mzxw6'], ['foob', 'mzxw6yq'], ['fooba', 'mzxw6ytb'], ['foobar', 'mzxw6ytboi']])('%j -> %j', (input, output) => {
    expect(base32(Buffer.from(input))).toBe(output)
  })
})

describe('base64url strict decoding', () => {
  it('round-trips canonical text and refuses the rest', () => {
    expect(fromBase64url('AAEC')).toEqual(Buffer.from([0, 1, 2]))
    expect(fromBase64url('AAE=')).toBeUndefined()
    expect(fromBase64url('AAE+')).toBeUndefined()
    expect(fromBase64url('AB')).toBeUndefined() // non-canonical trailing bits
  })
})

describe('tokens', () => {
  it('have the documented shape, 256-bit secrets and parse back', () => {
    const keyId = newKeyId()
    expect(keyId).toMatch(KEY_ID_RE)
    const { token, digest } = newToken(keyId)
    expect(token).toHaveLength(TOKEN_LENGTH)
    const parsed = parseToken(token)
    expect(parsed.ok && parsed.value.keyId).toBe(keyId)
    expect(parsed.ok && parsed.value.secret).toHaveLength(52)
    expect(parsed.ok && tokenDigest(parsed.value.secret)).toBe(digest)
  })
  it('differ every time', () => {
    const keyId = newKeyId()
    expect(newToken(keyId).token).not.toBe(newToken(keyId).token)
  })
  it('refuse truncation, a wrong prefix, and a wrong checksum', () => {
    const { token } = newToken(newKeyId())
    expect(parseToken(token.slice(0, -1))).toEqual({ ok: false, reason: 'malformed' })
    expect(parseToken(`mechb${token.slice(5)}`)).toEqual({ ok: false, reason: 'malformed' })
    const flipped = token.slice(0, 40) + (token[40] === 'a' ? 'b' : 'a') + token.slice(41)
    expect(parseToken(flipped)).toEqual({ ok: false, reason: 'checksum' })
    expect(parseToken(token.toUpperCase())).toEqual({ ok: false, reason: 'malformed' })
  })
})

describe('event ids', () => {
  it('sort in creation order, even within one millisecond', () => {
    const ids = Array.from({ length: 100 }, () => newEventId(1_700_000_000_000))
    expect([...ids].sort()).toEqual(ids)
    expect(new Set(ids).size).toBe(100)
    expect(newEventId(1_700_000_000_001) > ids[99]!).toBe(true)
  })
})

describe('sealed signing secrets', () => {
  const sealer = new SecretSealer(Buffer.alloc(32, 9))
  it('open with the same key and context only', () => {
    const secret = newSigningSecret()
    const sealed = sealer.seal(secret, 'k1/1')
    expect(sealed).not.toContain(secret)
    expect(sealer.open(sealed, 'k1/1')).toBe(secret)
    expect(sealer.open(sealed, 'k2/1')).toBeUndefined()
    expect(new SecretSealer(Buffer.alloc(32, 8)).open(sealed, 'k1/1')).toBeUndefined()
  })
  it('refuse tampering', () => {
    const sealed = sealer.seal('mss_x', 'ctx')
    const last = sealed.at(-2) === 'A' ? 'B' : 'A'
    expect(sealer.open(`${sealed.slice(0, -2)}${last}${sealed.at(-1)}`, 'ctx')).toBeUndefined()
    expect(sealer.open('v2.abc.def', 'ctx')).toBeUndefined()
  })
  it('check the master key length', () => {
    expect(() => new SecretSealer(Buffer.alloc(16))).toThrow('expected a 32-byte master key, got 16 bytes')
  })
})

describe('constantTimeEqual', () => {
  it('checks length first, then bytes', () => {
    expect(constantTimeEqual(Buffer.from('abc'), Buffer.from('abc'))).toBe(true)
    expect(constantTimeEqual(Buffer.from('abc'), Buffer.from('abd'))).toBe(false)
    expect(constantTimeEqual(Buffer.from('abc'), Buffer.from('abcd'))).toBe(false)
  })
})
