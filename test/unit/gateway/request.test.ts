import type { FastifyRequest } from 'fastify'
import { describe, expect, it } from 'vitest'
import { trimOptionalWhitespace } from '../../../src/crypto/structured-fields.js'
import { runtimeRequest } from '../../../src/gateway/request.js'

function fakeRequest(url: string, headers: Record<string, string | string[]>): FastifyRequest {
  return { method: 'GET', raw: { url, rawHeaders: [] }, headers } as unknown as FastifyRequest
}

describe('trimOptionalWhitespace: SP and HTAB only (RFC 9110 section 5.5)', () => {
  it.each([
    [' \t value \t ', 'value'],
    ['value', 'value'],
    ['', ''],
    [' \t ', ''],
    ['a b', 'a b'],
  ])('%j -> %j', (value, trimmed) => {
    expect(trimOptionalWhitespace(value)).toBe(trimmed)
  })

  it.each([
    ['U+00A0 (the 0xA0 byte, latin1)', '\u00a0'],
    ['U+0085 (the 0x85 byte)', '\u0085'],
    ['VT', '\u000b'],
    ['FF', '\u000c'],
    ['U+FEFF', '\ufeff'],
    ['U+2028', '\u2028'],
    ['U+3000', '\u3000'],
  ])('keeps %s at either end', (_name, char) => {
    expect(trimOptionalWhitespace(` ${char}value${char}\t`)).toBe(`${char}value${char}`)
  })
})

describe('runtimeRequest: header values', () => {
  it('a trailing 0xA0 stays part of the value', () => {
    const request = runtimeRequest(fakeRequest('/v1/whoami', { 'mecha-nonce': 'n'.repeat(22) + '\u00a0', 'x-spaced': '\t v \t' }))
    expect(request.header('mecha-nonce')).toBe(`${'n'.repeat(22)}\u00a0`)
    expect(request.header('x-spaced')).toBe('v')
    expect(request.header('x-absent')).toBeUndefined()
  })
})
