import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { base32 } from '../../src/crypto/encoding.js'
import { formatToken, parseToken, tokenDigest } from '../../src/crypto/token.js'

// The known-answer vector published in docs/protocol.md ("Mecha key token", "Test vector").
const VECTOR = {
  keyId: 'mkaaaaaaaaaaaaaaaaaaaaaaaa',
  secret: 'a'.repeat(52),
  checksum: 'nglbnha',
  token: 'mecha_mkaaaaaaaaaaaaaaaaaaaaaaaa_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_nglbnha',
  digest: 'bBs9x6cGudyBNSpnFrnGZsYI2GJicsZLkUqwVXL8boQ',
}

describe('token test vector (docs/protocol.md)', () => {
  it('32 zero bytes encode to 52 "a"', () => {
    expect(base32(Buffer.alloc(32))).toBe(VECTOR.secret)
  })
  it('assembles, parses and digests as published', () => {
    expect(formatToken(VECTOR.keyId, VECTOR.secret)).toBe(VECTOR.token)
    expect(VECTOR.token.endsWith(`_${VECTOR.checksum}`)).toBe(true)
    expect(parseToken(VECTOR.token)).toEqual({ ok: true, value: { keyId: VECTOR.keyId, secret: VECTOR.secret } })
    expect(tokenDigest(VECTOR.secret)).toBe(VECTOR.digest)
  })
  it('the document shows the same values', () => {
    const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8')
    for (const value of Object.values(VECTOR)) expect(doc).toContain(value)
  })
})
