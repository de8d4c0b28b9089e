import type { FastifyRequest } from 'fastify'
import { describe, expect, it } from 'vitest'
import { trimOptionalWhitespace } from '../../../src/crypto/structured-fields.js'
import { runtimeRequest, splitRequestTarget } from '../../../src/gateway/request.js'

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

describe('splitRequestTarget: @path and @query (RFC 9421 sections 2.2.6, 2.2.7)', () => {
  it.each([
    ['/v1/messages', '/v1/messages', '?'],
    ['/v1/inbox?wait=0&limit=5', '/v1/inbox', '?wait=0&limit=5'],
    ['/v1/inbox?', '/v1/inbox', '?'],
    ['/a%2Fb?x=%20', '/a%2Fb', '?x=%20'],
    ['http://127.0.0.1:3000/v1/messages', '/v1/messages', '?'],
    ['HTTPS://Example.com/v1/inbox?wait=0', '/v1/inbox', '?wait=0'],
    ['http://user@host:1/v1/whoami', '/v1/whoami', '?'],
    ['http://host', '/', '?'],
    ['http://host?x=1', '/', '?x=1'],
    ['http://host/a?b=http://c/d', '/a', '?b=http://c/d'],
  ])('%s -> %s %s', (target, path, query) => {
    expect(splitRequestTarget(target)).toEqual({ path, query })
    const request = runtimeRequest(fakeRequest(target, {}))
    expect({ path: request.path, query: request.query }).toEqual({ path, query })
  })

  it('says what it expected', () => {
    expect(() => splitRequestTarget(undefined as unknown as string)).toThrow('expected a request target as a string, got undefined')
  })
})
