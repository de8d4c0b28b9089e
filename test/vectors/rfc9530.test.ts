import { describe, expect, it } from 'vitest'
import { parseContentDigest, serializeContentDigest, type ContentDigest } from '../../src/crypto/content-digest.js'
import { contentDigestMatches, verifyContentDigest } from '../../src/crypto/verify-signature.js'

/*
 * Content-Digest known answers.
 *
 * RFC 9530 computes its examples over `{"hello": "world"}` FOLLOWED BY A LINE FEED (19 bytes;
 * Appendix B.1 says so, and its response has Content-Length: 19):
 * - Appendix B.1: sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:
 * - Section 2:    sha-512=:YMAam51Jz/jOATT6/zvHrLVgOYTGFy1d6GJiOHTohq4yP+pgk4vf2aCsyRZOtw8MjkM7iw7yZ/WkppmM44T3qg==:
 *
 * The 18-byte content without the line feed is RFC 9421 Appendix B.2's test-request body:
 * - RFC 9421 B.2: sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:
 * - sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=: is the widely used SHA-256 of the same 18
 *   bytes (draft-cavage-http-signatures' example Digest); it does not appear in RFC 9530 itself.
 */
const RFC9530_CONTENT = new TextEncoder().encode('{"hello": "world"}\n')
const RFC9421_CONTENT = new TextEncoder().encode('{"hello": "world"}')

const VECTORS = [
  { source: 'RFC 9530 B.1', content: RFC9530_CONTENT, field: 'sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:' },
  {
    source: 'RFC 9530 section 2',
    content: RFC9530_CONTENT,
    field: 'sha-512=:YMAam51Jz/jOATT6/zvHrLVgOYTGFy1d6GJiOHTohq4yP+pgk4vf2aCsyRZOtw8MjkM7iw7yZ/WkppmM44T3qg==:',
  },
  {
    source: 'RFC 9421 B.2',
    content: RFC9421_CONTENT,
    field: 'sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:',
  },
  { source: '18-byte content, sha-256', content: RFC9421_CONTENT, field: 'sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:' },
] as const

describe('Content-Digest known answers', () => {
  it.each(VECTORS)('$source: parses, matches, and serializes back', ({ content, field }) => {
    const parsed = parseContentDigest(field)
    expect(parsed.ok).toBe(true)
    if (!parsed.ok) return
    expect(parsed.digests.map((d) => d.algorithm)).toEqual([field.slice(0, 7)])
    const [digest] = parsed.digests as [ContentDigest]
    expect(contentDigestMatches(digest, content)).toBe(true)
    expect(serializeContentDigest(digest.algorithm, digest.digest)).toBe(field)
    expect(verifyContentDigest(field, content, { requireSha256: false })).toEqual({ ok: true })
  })

  it.each(VECTORS)('$source: does not match the content with one bit flipped, truncated, or extended', ({ content, field }) => {
    const parsed = parseContentDigest(field)
    if (!parsed.ok) throw new Error('vector did not parse')
    const [digest] = parsed.digests as [ContentDigest]
    const flipped = Uint8Array.from(content)
    flipped[0] = flipped[0]! ^ 0x01
    for (const changed of [flipped, content.subarray(0, content.length - 1), new Uint8Array([...content, 0x0a])]) {
      expect(contentDigestMatches(digest, changed)).toBe(false)
      expect(verifyContentDigest(field, changed, { requireSha256: false })).toMatchObject({ ok: false, reason: 'bad_digest' })
    }
  })

  it('the LF makes the difference between the RFC 9530 and RFC 9421 contents', () => {
    const rfc9530 = parseContentDigest(VECTORS[1].field)
    if (!rfc9530.ok) throw new Error('vector did not parse')
    expect(contentDigestMatches(rfc9530.digests[0] as ContentDigest, RFC9421_CONTENT)).toBe(false)
  })
})

describe('Content-Digest with several algorithms', () => {
  const sha256 = VECTORS[0].field
  const sha512 = VECTORS[1].field

  it('returns every supported member, sha-256 first, whatever the order', () => {
    for (const field of [`${sha512}, ${sha256}`, `${sha256}, ${sha512}`]) {
      const parsed = parseContentDigest(field)
      if (!parsed.ok) throw new Error(`did not parse: ${field}`)
      expect(parsed.digests.map((d) => d.algorithm)).toEqual(['sha-256', 'sha-512'])
      for (const digest of parsed.digests) expect(contentDigestMatches(digest, RFC9530_CONTENT)).toBe(true)
      expect(verifyContentDigest(field, RFC9530_CONTENT, { requireSha256: true })).toEqual({ ok: true })
    }
  })
  it('ignores algorithms it does not support', () => {
    const parsed = parseContentDigest(`md5=:AAAAAAAAAAAAAAAAAAAAAA==:, ${sha512}, unixsum=:AAAA:`)
    expect(parsed.ok && parsed.digests.map((d) => d.algorithm)).toEqual(['sha-512'])
  })
  it('a right sha-256 does not carry a wrong sha-512 (RFC 9530 sha-512 under the RFC 9421 content)', () => {
    const field = `${VECTORS[3].field}, ${sha512}`
    expect(verifyContentDigest(field, RFC9421_CONTENT, { requireSha256: true })).toEqual({ ok: false, reason: 'bad_digest', detail: 'Content-Digest sha-512 does not match the body bytes' })
  })
  it('refuses a field with only unsupported algorithms', () => {
    expect(parseContentDigest('md5=:AAAAAAAAAAAAAAAAAAAAAA==:')).toEqual({ ok: false, reason: 'unsupported_algorithm' })
    expect(parseContentDigest('sha-384=:AAAA:')).toEqual({ ok: false, reason: 'unsupported_algorithm' })
  })
})

describe('malformed Content-Digest', () => {
  it.each([
    ['an empty field', ''],
    ['a wrong length for sha-256', 'sha-256=:AAAAAAAAAAAAAAAAAAAAAA==:'],
    ['a sha-512 length under sha-256', `sha-256=${VECTORS[1].field.slice(8)}`],
    ['a wrong length for sha-512', 'sha-512=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:'],
    ['a token instead of bytes', 'sha-256=abc'],
    ['a string instead of bytes', 'sha-256="RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg="'],
    ['an inner list', 'sha-256=(:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:)'],
    ['a bad sha-512 next to a good sha-256', `${VECTORS[0].field}, sha-512=:AAAA:`],
    ['unpadded base64', 'sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg:'],
    ['an uppercase algorithm', 'SHA-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:'],
    ['the same algorithm twice', `${VECTORS[0].field}, ${VECTORS[0].field}`],
    ['a trailing comma', `${VECTORS[0].field},`],
  ])('%s', (_, field) => {
    expect(parseContentDigest(field)).toEqual({ ok: false, reason: 'malformed' })
  })
})
