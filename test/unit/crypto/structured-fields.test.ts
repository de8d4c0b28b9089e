import { describe, expect, it } from 'vitest'
import {
  MAX_FIELD_LENGTH,
  decodeBase64,
  encodeBase64,
  parseDictionary,
  serializeBareItem,
  serializeInnerList,
  type BareItem,
  type Dictionary,
  type DictionaryMember,
} from '../../../src/crypto/structured-fields.js'

function parse(text: string): Dictionary {
  const result = parseDictionary(text)
  if (!result.ok) throw new Error(`expected ${JSON.stringify(text)} to parse: ${result.error}`)
  return result.value
}

function member(text: string, key: string): DictionaryMember {
  const value = parse(text).get(key)
  if (value === undefined) throw new Error(`no member ${key}`)
  return value
}

function bare(text: string): BareItem {
  const value = member(`k=${text}`, 'k')
  if (value.type !== 'item') throw new Error('expected an item')
  return value.value
}

function error(text: string): string {
  const result = parseDictionary(text)
  if (result.ok) throw new Error(`expected ${JSON.stringify(text)} to be refused`)
  return result.error
}

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text)

describe('parseDictionary: RFC 8941 section 3.2 shapes', () => {
  it('strings and byte sequences', () => {
    const dictionary = parse('en="Applepie", da=:w4ZibGV0w6ZydGUK:')
    expect([...dictionary.keys()]).toEqual(['en', 'da'])
    expect(bare('"Applepie"')).toEqual({ type: 'string', value: 'Applepie' })
    expect(bare(':w4ZibGV0w6ZydGUK:')).toEqual({ type: 'byte-sequence', value: bytes('Æbletærte\n') })
  })
  it('bare keys are Boolean true, with parameters', () => {
    const dictionary = parse('a=?0, b, c; foo=bar')
    expect(dictionary.get('a')).toEqual({ type: 'item', value: { type: 'boolean', value: false }, params: new Map() })
    expect(dictionary.get('b')).toEqual({ type: 'item', value: { type: 'boolean', value: true }, params: new Map() })
    expect(dictionary.get('c')).toEqual({
      type: 'item',
      value: { type: 'boolean', value: true },
      params: new Map([['foo', { type: 'token', value: 'bar' }]]),
    })
  })
  it('inner lists with parameters on items and on the list', () => {
    const dictionary = parse('a=(1 2), b=3, c=4;aa=bb, d=(5 6);valid')
    expect(dictionary.get('a')).toEqual({
      type: 'inner-list',
      items: [
        { type: 'item', value: { type: 'integer', value: 1 }, params: new Map() },
        { type: 'item', value: { type: 'integer', value: 2 }, params: new Map() },
      ],
      params: new Map(),
    })
    const d = dictionary.get('d')
    expect(d?.type === 'inner-list' && d.params.get('valid')).toEqual({ type: 'boolean', value: true })
    expect(member('x=("a";p=1 "b")', 'x')).toMatchObject({ items: [{ params: new Map([['p', { type: 'integer', value: 1 }]]) }, {}] })
    expect(member('x=()', 'x')).toEqual({ type: 'inner-list', items: [], params: new Map() })
  })
  it('an empty field is an empty dictionary', () => {
    expect(parse('').size).toBe(0)
    expect(parse('   ').size).toBe(0)
  })
  it('whitespace: SP around the field, OWS around commas, SP inside inner lists and after ";"', () => {
    expect(parse('  a=1 ,\tb=2  ').size).toBe(2)
    expect(member('a=(  1   2 )', 'a')).toMatchObject({ items: [{}, {}] })
    expect(member('a=1; p=2', 'a')).toMatchObject({ params: new Map([['p', { type: 'integer', value: 2 }]]) })
  })
})

describe('parseDictionary: bare items', () => {
  it('integers up to 15 digits, negative too', () => {
    expect(bare('42')).toEqual({ type: 'integer', value: 42 })
    expect(bare('-0')).toMatchObject({ type: 'integer' })
    expect(bare('999999999999999')).toEqual({ type: 'integer', value: 999_999_999_999_999 })
    expect(bare('-999999999999999')).toEqual({ type: 'integer', value: -999_999_999_999_999 })
    expect(error('k=1000000000000000')).toMatch(/more than 15 digits/)
  })
  it('decimals: at most 12 integer and 3 fractional digits', () => {
    expect(bare('1.5')).toEqual({ type: 'decimal', value: 1.5 })
    expect(bare('-0.125')).toEqual({ type: 'decimal', value: -0.125 })
    expect(bare('123456789012.123')).toEqual({ type: 'decimal', value: 123456789012.123 })
    expect(error('k=1.1234')).toMatch(/3 fractional/)
    expect(error('k=1.')).toMatch(/ending in "."/)
    expect(error('k=1234567890123.0')).toMatch(/12 integer digits/)
    expect(error('k=-')).toMatch(/expected a digit/)
    expect(error('k=1.2.3')).toMatch(/","/)
  })
  it('strings: printable ASCII with \\" and \\\\ escapes only', () => {
    expect(bare('"a\\"b\\\\c"')).toEqual({ type: 'string', value: 'a"b\\c' })
    expect(bare('""')).toEqual({ type: 'string', value: '' })
    expect(error('k="\\a"')).toMatch(/invalid escape/)
    expect(error('k="abc')).toMatch(/unterminated string/)
    expect(error('k="é"')).toMatch(/non-printable/)
    expect(error('k="a\tb"')).toMatch(/non-printable/)
  })
  it('tokens may contain ":" and "/" after the first character', () => {
    expect(bare('foo/bar:baz')).toEqual({ type: 'token', value: 'foo/bar:baz' })
    expect(bare('*x')).toEqual({ type: 'token', value: '*x' })
    expect(bare('Foo')).toEqual({ type: 'token', value: 'Foo' })
  })
  it('byte sequences must be canonical padded base64', () => {
    expect(bare(':aGVsbG8=:')).toEqual({ type: 'byte-sequence', value: bytes('hello') })
    expect(bare('::')).toEqual({ type: 'byte-sequence', value: new Uint8Array(0) })
    expect(error('k=:aGVsbG8:')).toMatch(/canonical padded base64/) // padding missing
    expect(error('k=:aGVsbG9=:')).toMatch(/canonical padded base64/) // non-zero pad bits
    expect(error('k=:aGV*bG8=:')).toMatch(/canonical padded base64/)
    expect(error('k=:aGVsbG8=')).toMatch(/unterminated byte sequence/)
  })
  it('booleans are ?0 and ?1 only', () => {
    expect(bare('?1')).toEqual({ type: 'boolean', value: true })
    expect(bare('?0')).toEqual({ type: 'boolean', value: false })
    expect(error('k=?2')).toMatch(/"\?0" or "\?1"/)
    expect(error('k=?')).toMatch(/"\?0" or "\?1"/)
  })
})

describe('parseDictionary: refusals', () => {
  it('a repeated member (RFC 8941 would keep the last one)', () => {
    expect(error('a=1, a=2')).toMatch(/^duplicate member "a"/)
    expect(error('sig=("x"), other=1, sig=("y")')).toMatch(/^duplicate member "sig"/)
  })
  it('a repeated parameter, on an inner list or an item', () => {
    expect(error('sig=("@method");keyid="a";alg="ed25519";keyid="b"')).toMatch(/^duplicate parameter "keyid"/)
    expect(error('a=1;x;x')).toMatch(/^duplicate parameter "x"/)
    expect(error('a=("b";p=1;p=2)')).toMatch(/^duplicate parameter "p"/)
  })
  it('input longer than the limit, before parsing it', () => {
    const fits = `a="${'x'.repeat(MAX_FIELD_LENGTH - 4)}"`
    expect(fits).toHaveLength(MAX_FIELD_LENGTH)
    expect(parseDictionary(fits).ok).toBe(true)
    expect(error(`${fits} `)).toMatch(/longer than 8192/)
    expect(parseDictionary('a=1, b=2', { maxLength: 4 })).toEqual({ ok: false, error: 'field value longer than 4 characters' })
  })
  it.each([
    ['a trailing comma', 'a=1,'],
    ['an empty member', 'a=1,,b=2'],
    ['an uppercase key', 'A=1'],
    ['a key starting with a digit', '1a=1'],
    ['a missing separator', 'a=1 b=2'],
    ['a leading tab (only SP may surround the field)', '\ta=1'],
    ['an unterminated inner list', 'a=(1 2'],
    ['items not separated by SP', 'a=(1,2)'],
    ['an item missing after "="', 'a='],
    ['a nested inner list', 'a=((1))'],
    ['a parameter without a key', 'a=1;=2'],
    ['garbage after the last member', 'a=1 x'],
  ])('%s', (_, text) => {
    expect(parseDictionary(text).ok).toBe(false)
  })
  it('never throws on hostile input, and throws TypeError on a non-string argument', () => {
    for (const text of ['"', ':', '(', '?', '-', ';', '=', 'a=("', 'a=(:', '\u0000', 'a=\u00ff']) {
      expect(() => parseDictionary(text)).not.toThrow()
    }
    expect(() => parseDictionary(42 as unknown as string)).toThrow(/expected a string, got 42/)
  })
})

describe('serializeInnerList', () => {
  it('reproduces the canonical form, whatever whitespace the input had', () => {
    const list = member('sig=(  "@method"   "content-digest" );created=1618884473;keyid="k";valid;q=0.500', 'sig')
    if (list.type !== 'inner-list') throw new Error('expected an inner list')
    expect(serializeInnerList(list)).toBe('("@method" "content-digest");created=1618884473;keyid="k";valid;q=0.5')
  })
  it('round-trips every bare item type', () => {
    const text = '(1 -2 3.25 "a\\"b" tok/en :AQID: ?0 ?1;p);x=?0'
    const list = member(`k=${text}`, 'k')
    if (list.type !== 'inner-list') throw new Error('expected an inner list')
    expect(serializeInnerList(list)).toBe(text)
  })
  it('refuses what has no serialization', () => {
    expect(() => serializeInnerList({ type: 'item' } as never)).toThrow(/expected an inner list/)
    expect(() => serializeBareItem({ type: 'string', value: 'é' })).toThrow(/printable ASCII/)
    expect(() => serializeBareItem({ type: 'token', value: '1abc' })).toThrow(/expected a token/)
    expect(() => serializeBareItem({ type: 'integer', value: 1e15 })).toThrow(/15 digits/)
    expect(() => serializeBareItem({ type: 'integer', value: 1.5 })).toThrow(/15 digits/)
    expect(() => serializeBareItem({ type: 'decimal', value: 1e12 })).toThrow(/12 integer digits/)
  })
  it('decimals round half to even at three places (RFC 8941 section 4.1.5)', () => {
    expect(serializeBareItem({ type: 'decimal', value: 2 })).toBe('2.0')
    expect(serializeBareItem({ type: 'decimal', value: 0.0625 })).toBe('0.062')
    expect(serializeBareItem({ type: 'decimal', value: 0.1875 })).toBe('0.188')
    expect(serializeBareItem({ type: 'decimal', value: -1.5 })).toBe('-1.5')
  })
})

describe('base64 (RFC 4648 section 10 vectors)', () => {
  it.each([
    ['', ''],
    ['f', 'Zg=='],
    ['fo', 'Zm8='],
    ['foo', 'Zm9v'],
    ['foob', 'Zm9vYg=='],
    ['fooba', 'Zm9vYmE='],
    ['foobar', 'Zm9vYmFy'],
  ])('%j <-> %j', (plain, encoded) => {
    expect(encodeBase64(bytes(plain))).toBe(encoded)
    expect(decodeBase64(encoded)).toEqual(bytes(plain))
  })
  it('round-trips every byte value', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    expect(decodeBase64(encodeBase64(all))).toEqual(all)
  })
  it.each([
    ['missing padding', 'Zg'],
    ['non-zero pad bits', 'Zh=='],
    ['non-zero pad bits (one "=")', 'Zm9='],
    ['too much padding', 'Z==='],
    ['padding in the middle', 'Zg==Zm8='],
    ['the URL alphabet', 'Zm-_'],
    ['whitespace', 'Zm9v Zg=='],
    ['a non-ASCII character', 'Zm9é'],
  ])('refuses %s', (_, text) => {
    expect(decodeBase64(text)).toBeUndefined()
  })
  it('checks its arguments', () => {
    expect(() => encodeBase64('abc' as unknown as Uint8Array)).toThrow(/expected a Uint8Array, got "abc"/)
    expect(() => decodeBase64(undefined as unknown as string)).toThrow(/expected a string, got undefined/)
  })
})
