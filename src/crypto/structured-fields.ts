/**
 * RFC 8941 Structured Field Values: the part HTTP Message Signatures (RFC 9421) and Digest Fields
 * (RFC 9530) need — Dictionaries whose members are Items or Inner Lists, with Parameters, and the
 * canonical serialization of an Inner List (the value of `@signature-params`).
 *
 * Portable on purpose (no `node:` imports, no Buffer): the runtime SDK signs with the same code.
 *
 * Deliberate departures from RFC 8941, all refusals of input the RFC would accept:
 * - a repeated dictionary key or parameter is an error, not "last one wins": two `keyid`s or two
 *   `mecha` labels in one field can only be an attempt to make two parsers disagree;
 * - a Byte Sequence must be canonical padded base64 (RFC 8941 section 3.3.5 lets parsers accept
 *   missing padding and non-zero pad bits): one signature, one spelling;
 * - fields longer than {@link MAX_FIELD_LENGTH} characters are refused before any parsing.
 *
 * Parsing never throws on input: it returns `{ ok: false, error }`. Serializing throws a TypeError
 * for a value that has no serialization, which is a programming error, not client input.
 */

/** Upper bound on a field value, in characters, so the work per request stays bounded. */
export const MAX_FIELD_LENGTH = 8192

export type BareItem =
  | { type: 'integer'; value: number }
  | { type: 'decimal'; value: number }
  | { type: 'string'; value: string }
  | { type: 'token'; value: string }
  | { type: 'byte-sequence'; value: Uint8Array }
  | { type: 'boolean'; value: boolean }

/** Parameters in the order they appeared; keys are unique (duplicates are refused when parsing). */
export type Parameters = Map<string, BareItem>

export interface Item {
  type: 'item'
  value: BareItem
  params: Parameters
}

export interface InnerList {
  type: 'inner-list'
  items: Item[]
  params: Parameters
}

export type DictionaryMember = Item | InnerList
export type Dictionary = Map<string, DictionaryMember>

export type StructuredFieldResult<T> = { ok: true; value: T } | { ok: false; error: string }

export interface ParseOptions {
  /** Refuse longer input without parsing it. Default {@link MAX_FIELD_LENGTH}. */
  maxLength?: number
}

/** RFC 8941 section 4.2.2: parse a Dictionary field value (strictly, see the module comment). */
export function parseDictionary(text: string, options: ParseOptions = {}): StructuredFieldResult<Dictionary> {
  if (typeof text !== 'string') throw new TypeError(`expected a string, got ${describe(text)}`)
  const maxLength = options.maxLength ?? MAX_FIELD_LENGTH
  if (!Number.isSafeInteger(maxLength) || maxLength < 0) {
    throw new TypeError(`expected maxLength to be a non-negative integer, got ${describe(maxLength)}`)
  }
  if (text.length > maxLength) return { ok: false, error: `field value longer than ${maxLength} characters` }
  try {
    const cursor = new Cursor(text)
    cursor.skipSpaces()
    const dictionary: Dictionary = new Map()
    while (!cursor.done()) {
      const key = parseKey(cursor)
      let member: DictionaryMember
      if (cursor.peek() === '=') {
        cursor.pos++
        member = cursor.peek() === '(' ? parseInnerList(cursor) : parseItem(cursor)
      } else {
        member = { type: 'item', value: { type: 'boolean', value: true }, params: parseParameters(cursor) }
      }
      if (dictionary.has(key)) cursor.fail(`duplicate member "${key}"`)
      dictionary.set(key, member)
      cursor.skipOptionalWhitespace()
      if (cursor.done()) break
      if (cursor.take() !== ',') cursor.fail('expected "," between members', cursor.pos - 1)
      cursor.skipOptionalWhitespace()
      if (cursor.done()) cursor.fail('trailing comma')
    }
    return { ok: true, value: dictionary }
  } catch (error) {
    if (error instanceof StructuredFieldSyntaxError) return { ok: false, error: error.message }
    throw error
  }
}

/** RFC 8941 section 4.1.1.1: `(<item> <item> ...)<parameters>`, the form of `@signature-params`. */
export function serializeInnerList(list: InnerList): string {
  if (list === null || typeof list !== 'object' || list.type !== 'inner-list' || !Array.isArray(list.items)) {
    throw new TypeError(`expected an inner list, got ${describe(list)}`)
  }
  return `(${list.items.map(serializeItem).join(' ')})${serializeParameters(list.params)}`
}

/** RFC 8941 section 4.1.3. */
export function serializeItem(item: Item): string {
  if (item === null || typeof item !== 'object' || item.type !== 'item') {
    throw new TypeError(`expected an item, got ${describe(item)}`)
  }
  return serializeBareItem(item.value) + serializeParameters(item.params)
}

/** RFC 8941 section 4.1.1.2: a Boolean true parameter is written as the bare key. */
export function serializeParameters(params: Parameters): string {
  if (!(params instanceof Map)) throw new TypeError(`expected parameters as a Map, got ${describe(params)}`)
  let out = ''
  for (const [key, value] of params) {
    if (!KEY_RE.test(key)) throw new TypeError(`expected a parameter key, got ${JSON.stringify(key)}`)
    out += `;${key}`
    if (!(value.type === 'boolean' && value.value)) out += `=${serializeBareItem(value)}`
  }
  return out
}

/** RFC 8941 section 4.1.3.1. */
export function serializeBareItem(item: BareItem): string {
  switch (item?.type) {
    case 'integer':
      if (!Number.isSafeInteger(item.value) || Math.abs(item.value) > MAX_INTEGER) {
        throw new TypeError(`expected an integer of at most 15 digits, got ${describe(item.value)}`)
      }
      return String(item.value)
    case 'decimal':
      return serializeDecimal(item.value)
    case 'string':
      if (typeof item.value !== 'string' || !PRINTABLE_ASCII_RE.test(item.value)) {
        throw new TypeError(`expected a string of printable ASCII, got ${describe(item.value)}`)
      }
      return `"${item.value.replace(/[\\"]/g, '\\$&')}"`
    case 'token':
      if (typeof item.value !== 'string' || !TOKEN_RE.test(item.value)) {
        throw new TypeError(`expected a token, got ${describe(item.value)}`)
      }
      return item.value
    case 'byte-sequence':
      return `:${encodeBase64(item.value)}:`
    case 'boolean': {
      const value: unknown = item.value
      if (typeof value !== 'boolean') throw new TypeError(`expected a boolean, got ${describe(value)}`)
      return value ? '?1' : '?0'
    }
    default:
      throw new TypeError(`expected a bare item, got ${describe(item)}`)
  }
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const BASE64_INDEX: readonly number[] = (() => {
  const index = new Array<number>(128).fill(-1)
  for (let i = 0; i < BASE64_ALPHABET.length; i++) index[BASE64_ALPHABET.charCodeAt(i)] = i
  return index
})()

/**
 * A field value without the SP and HTAB at both ends (RFC 9110 section 5.5 optional whitespace;
 * RFC 9421 section 2.1), and nothing else: Node decodes header bytes as latin1, so
 * String.prototype.trim would also strip a 0xA0 byte (U+00A0), other Unicode whitespace too, and a
 * value would equal the value without it.
 */
export function trimOptionalWhitespace(value: string): string {
  let start = 0
  let end = value.length
  while (start < end && isOptionalWhitespace(value.charCodeAt(start))) start++
  while (end > start && isOptionalWhitespace(value.charCodeAt(end - 1))) end--
  return start === 0 && end === value.length ? value : value.slice(start, end)
}

function isOptionalWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09
}

/** RFC 4648 section 4 base64, standard alphabet, padded. */
export function encodeBase64(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`expected a Uint8Array, got ${describe(bytes)}`)
  let out = ''
  for (let i = 0; i < bytes.length; i += 3) {
    const b0 = bytes[i]!
    const b1 = bytes[i + 1]
    const b2 = bytes[i + 2]
    out += BASE64_ALPHABET[b0 >> 2]!
    out += BASE64_ALPHABET[((b0 & 0x03) << 4) | ((b1 ?? 0) >> 4)]!
    out += b1 === undefined ? '=' : BASE64_ALPHABET[((b1 & 0x0f) << 2) | ((b2 ?? 0) >> 6)]!
    out += b2 === undefined ? '=' : BASE64_ALPHABET[b2 & 0x3f]!
  }
  return out
}

/**
 * Strict RFC 4648 section 4 base64 decoding: standard alphabet, padding required, pad bits zero.
 * Anything that would not re-encode to the same text returns undefined.
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (typeof text !== 'string') throw new TypeError(`expected a string, got ${describe(text)}`)
  if (text.length % 4 !== 0) return undefined
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0
  const out = new Uint8Array((text.length / 4) * 3 - padding)
  let o = 0
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length
    const c0 = sextet(text, i)
    const c1 = sextet(text, i + 1)
    const c2 = last && padding === 2 ? 0 : sextet(text, i + 2)
    const c3 = last && padding >= 1 ? 0 : sextet(text, i + 3)
    if (c0 < 0 || c1 < 0 || c2 < 0 || c3 < 0) return undefined
    out[o++] = (c0 << 2) | (c1 >> 4)
    if (last && padding === 2) {
      if ((c1 & 0x0f) !== 0) return undefined
      break
    }
    out[o++] = ((c1 & 0x0f) << 4) | (c2 >> 2)
    if (last && padding === 1) {
      if ((c2 & 0x03) !== 0) return undefined
      break
    }
    out[o++] = ((c2 & 0x03) << 6) | c3
  }
  return out
}

function sextet(text: string, at: number): number {
  const code = text.charCodeAt(at)
  return code < 128 ? BASE64_INDEX[code]! : -1
}

const MAX_INTEGER = 999_999_999_999_999
const KEY_RE = /^[a-z*][a-z0-9_\-.*]*$/
const TOKEN_RE = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*$/
const PRINTABLE_ASCII_RE = /^[\x20-\x7e]*$/

class StructuredFieldSyntaxError extends Error {}

class Cursor {
  pos = 0
  constructor(readonly text: string) {}

  done(): boolean {
    return this.pos >= this.text.length
  }

  peek(): string | undefined {
    return this.text[this.pos]
  }

  take(): string | undefined {
    return this.text[this.pos++]
  }

  skipSpaces(): void {
    while (this.text[this.pos] === ' ') this.pos++
  }

  /** OWS: SP and HTAB (RFC 9110 section 5.6.3). */
  skipOptionalWhitespace(): void {
    while (this.text[this.pos] === ' ' || this.text[this.pos] === '\t') this.pos++
  }

  fail(message: string, at = this.pos): never {
    throw new StructuredFieldSyntaxError(`${message} (at character ${at})`)
  }
}

function isDigit(char: string | undefined): boolean {
  return char !== undefined && char >= '0' && char <= '9'
}

function isLowerAlpha(char: string | undefined): boolean {
  return char !== undefined && char >= 'a' && char <= 'z'
}

function isAlpha(char: string | undefined): boolean {
  return isLowerAlpha(char) || (char !== undefined && char >= 'A' && char <= 'Z')
}

const TCHAR_SYMBOLS = new Set("!#$%&'*+-.^_`|~")

function isTokenChar(char: string | undefined): boolean {
  return isAlpha(char) || isDigit(char) || (char !== undefined && (TCHAR_SYMBOLS.has(char) || char === ':' || char === '/'))
}

/** RFC 8941 section 4.2.3.3. */
function parseKey(cursor: Cursor): string {
  const start = cursor.pos
  const first = cursor.peek()
  if (!isLowerAlpha(first) && first !== '*') cursor.fail('expected a key')
  cursor.pos++
  for (;;) {
    const char = cursor.peek()
    if (!(isLowerAlpha(char) || isDigit(char) || char === '_' || char === '-' || char === '.' || char === '*')) break
    cursor.pos++
  }
  return cursor.text.slice(start, cursor.pos)
}

/** RFC 8941 section 4.2.1.2. */
function parseInnerList(cursor: Cursor): InnerList {
  cursor.pos++ // "("
  const items: Item[] = []
  while (!cursor.done()) {
    cursor.skipSpaces()
    if (cursor.peek() === ')') {
      cursor.pos++
      return { type: 'inner-list', items, params: parseParameters(cursor) }
    }
    items.push(parseItem(cursor))
    const next = cursor.peek()
    if (next !== ' ' && next !== ')') cursor.fail('expected " " or ")" in inner list')
  }
  return cursor.fail('unterminated inner list')
}

/** RFC 8941 section 4.2.3. */
function parseItem(cursor: Cursor): Item {
  const value = parseBareItem(cursor)
  return { type: 'item', value, params: parseParameters(cursor) }
}

/** RFC 8941 section 4.2.3.2, refusing a repeated key. */
function parseParameters(cursor: Cursor): Parameters {
  const params: Parameters = new Map()
  while (cursor.peek() === ';') {
    cursor.pos++
    cursor.skipSpaces()
    const key = parseKey(cursor)
    let value: BareItem = { type: 'boolean', value: true }
    if (cursor.peek() === '=') {
      cursor.pos++
      value = parseBareItem(cursor)
    }
    if (params.has(key)) cursor.fail(`duplicate parameter "${key}"`)
    params.set(key, value)
  }
  return params
}

/** RFC 8941 section 4.2.3.1. */
function parseBareItem(cursor: Cursor): BareItem {
  const char = cursor.peek()
  if (char === '-' || isDigit(char)) return parseNumber(cursor)
  if (char === '"') return parseString(cursor)
  if (char === '*' || isAlpha(char)) return parseToken(cursor)
  if (char === ':') return parseByteSequence(cursor)
  if (char === '?') return parseBoolean(cursor)
  return cursor.fail('expected an item')
}

/** RFC 8941 section 4.2.4: at most 15 integer digits, or 12 + "." + 3 for a decimal. */
function parseNumber(cursor: Cursor): BareItem {
  const start = cursor.pos
  let negative = false
  if (cursor.peek() === '-') {
    negative = true
    cursor.pos++
  }
  if (!isDigit(cursor.peek())) cursor.fail('expected a digit')
  let decimal = false
  let digits = ''
  for (;;) {
    const char = cursor.peek()
    if (isDigit(char)) {
      digits += char
    } else if (!decimal && char === '.') {
      if (digits.length > 12) cursor.fail('decimal with more than 12 integer digits', start)
      digits += char
      decimal = true
    } else {
      break
    }
    cursor.pos++
    if (!decimal && digits.length > 15) cursor.fail('integer with more than 15 digits', start)
    if (decimal && digits.length > 16) cursor.fail('decimal longer than 16 characters', start)
  }
  if (!decimal) {
    const value = Number.parseInt(digits, 10)
    return { type: 'integer', value: negative ? -value : value }
  }
  const fraction = digits.length - digits.indexOf('.') - 1
  if (fraction === 0) cursor.fail('decimal ending in "."', start)
  if (fraction > 3) cursor.fail('decimal with more than 3 fractional digits', start)
  const value = Number(digits)
  return { type: 'decimal', value: negative ? -value : value }
}

/** RFC 8941 section 4.2.5: printable ASCII, only `\"` and `\\` escapes. */
function parseString(cursor: Cursor): BareItem {
  cursor.pos++ // '"'
  let value = ''
  while (!cursor.done()) {
    const char = cursor.take()!
    if (char === '\\') {
      const escaped = cursor.take()
      if (escaped !== '"' && escaped !== '\\') cursor.fail('invalid escape in string', cursor.pos - 1)
      value += escaped
    } else if (char === '"') {
      return { type: 'string', value }
    } else {
      const code = char.charCodeAt(0)
      if (code < 0x20 || code > 0x7e) cursor.fail('non-printable character in string', cursor.pos - 1)
      value += char
    }
  }
  return cursor.fail('unterminated string')
}

/** RFC 8941 section 4.2.6. */
function parseToken(cursor: Cursor): BareItem {
  const start = cursor.pos
  cursor.pos++
  while (isTokenChar(cursor.peek())) cursor.pos++
  return { type: 'token', value: cursor.text.slice(start, cursor.pos) }
}

/** RFC 8941 section 4.2.7, with strict base64 (see the module comment). */
function parseByteSequence(cursor: Cursor): BareItem {
  const start = cursor.pos + 1
  const end = cursor.text.indexOf(':', start)
  if (end < 0) cursor.fail('unterminated byte sequence')
  const value = decodeBase64(cursor.text.slice(start, end))
  if (value === undefined) cursor.fail('byte sequence is not canonical padded base64', start)
  cursor.pos = end + 1
  return { type: 'byte-sequence', value }
}

/** RFC 8941 section 4.2.8. */
function parseBoolean(cursor: Cursor): BareItem {
  cursor.pos++ // "?"
  const char = cursor.take()
  if (char === '1') return { type: 'boolean', value: true }
  if (char === '0') return { type: 'boolean', value: false }
  return cursor.fail('expected "?0" or "?1"', cursor.pos - 1)
}

/** RFC 8941 section 4.1.5: three fractional digits at most, rounded half to even. */
function serializeDecimal(value: number): string {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`expected a finite decimal, got ${describe(value)}`)
  }
  const scaled = Math.abs(value) * 1000
  let thousandths = Math.floor(scaled)
  const remainder = scaled - thousandths
  if (remainder > 0.5 || (remainder === 0.5 && thousandths % 2 === 1)) thousandths += 1
  const integer = Math.floor(thousandths / 1000)
  if (integer > 999_999_999_999) throw new TypeError(`expected a decimal with at most 12 integer digits, got ${value}`)
  const fraction = String(thousandths % 1000).padStart(3, '0').replace(/0+$/, '') || '0'
  return `${value < 0 && thousandths !== 0 ? '-' : ''}${integer}.${fraction}`
}

function describe(value: unknown): string {
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return typeof value
}
