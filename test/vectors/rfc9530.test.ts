import { describe, expect, it } from 'vitest'
import { parseContentDigest, serializeContentDigest } from '../../src/crypto/content-digest.js'
import { contentDigestMatches } from '../../src/crypto/verify-signature.js'

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
    expect(parsed.algorithm).toBe(field.slice(0, 7))
    expect(contentDigestMatches(parsed, content)).toBe(true)
    expect(serializeContentDigest(parsed.algorithm, parsed.digest)).toBe(field)
  })

  it.each(VECTORS)('$source: does not match the content with one bit flipped, truncated, or extended', ({ content, field }) => {
    const parsed = parseContentDigest(field)
    if (!parsed.ok) throw new Error('vector did not parse')
    const flipped = Uint8Array.from(content)
    flipped[0] = flipped[0]! ^ 0x01
    expect(contentDigestMatches(parsed, flipped)).toBe(false)
    expect(contentDigestMatches(parsed, content.subarray(0, content.length - 1))).toBe(false)
    expect(contentDigestMatches(parsed, new Uint8Array([...content, 0x0a]))).toBe(false)
  })

  it('the LF makes the difference between the RFC 9530 and RFC 9421 contents', () => {
    const rfc9530 = parseContentDigest(VECTORS[1].field)
    if (!rfc9530.ok) throw new Error('vector did not parse')
    expect(contentDigestMatches(rfc9530, RFC9421_CONTENT)).toBe(false)
  })
})

describe('Content-Digest with several algorithms', () => {
  const sha256 = VECTORS[0].field
  const sha512 = VECTORS[1].field

  it('uses sha-256 when present, whatever the order', () => {
    for (const field of [`${sha512}, ${sha256}`, `${sha256}, ${sha512}`]) {
      const parsed = parseContentDigest(field)
      expect(parsed.ok && parsed.algorithm).toBe('sha-256')
      expect(parsed.ok && contentDigestMatches(parsed, RFC9530_CONTENT)).toBe(true)
    }
  })
  it('ignores algorithms it does not support', () => {
    const parsed = parseContentDigest(`md5=:AAAAAAAAAAAAAAAAAAAAAA==:, ${sha512}, unixsum=:AAAA:`)
    expect(parsed.ok && parsed.algorithm).toBe('sha-512')
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
