import { randomBytes, randomFillSync } from 'node:crypto'
import { base32 } from './encoding.js'
import { CROCKFORD } from './id-formats.js'

/** A new key id (KEY_ID_RE in id-formats.ts: `mk` + 24 base32 characters, 120 random bits). */
export function newKeyId(): string {
  return `mk${base32(randomBytes(15))}`
}

const CROCKFORD_LOWER = CROCKFORD.toLowerCase()
let lastTime = 0
const lastRandom = new Uint8Array(10)

/**
 * Random bytes for event ids, drawn from a pool refilled 4 KiB at a time: one randomFillSync per ~400
 * ids instead of one per id (ids are public and need uniqueness, not secrecy; secrets never come from here).
 */
const pool = Buffer.alloc(4096)
let poolOffset = pool.length

/** The offset of `length` fresh bytes of the pool. */
function reserve(length: number): number {
  if (poolOffset + length > pool.length) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const at = poolOffset
  poolOffset += length
  return at
}

function fillRandom(target: Uint8Array): void {
  const at = reserve(target.length)
  target.set(pool.subarray(at, at + target.length))
}

const REQUEST_ID_BYTES = 16

/**
 * Request ids (`req_` + 32 hex digits, 128 random bits: the X-Request-Id and problem `request_id`
 * format), from the same pool: `randomUUID()` with its dashes removed cost about 1.5 µs per request
 * here, this a fifth of that.
 */
export function newRequestId(): string {
  const at = reserve(REQUEST_ID_BYTES)
  return `req_${pool.toString('hex', at, at + REQUEST_ID_BYTES)}`
}

/**
 * Time-ordered ids (ULID layout: 48-bit ms time, 80 random bits, Crockford base32), monotonic within a
 * process, so that audit events sort by time and `before` pagination is a range read.
 */
export function newEventId(now: number = Date.now()): string {
  return timeOrderedId(now, CROCKFORD)
}

/** Message ids: `msg_` + a time-ordered id in lowercase (unique in the recipient's inbox, sorted by time). */
export function newMessageId(now: number = Date.now()): string {
  return `msg_${timeOrderedId(now, CROCKFORD_LOWER)}`
}

/** Session ids: `ses_` + a time-ordered id in lowercase (sessions list by time). */
export function newSessionId(now: number = Date.now()): string {
  return `ses_${timeOrderedId(now, CROCKFORD_LOWER)}`
}

function timeOrderedId(now: number, alphabet: string): string {
  if (now <= lastTime) {
    now = lastTime
    increment(lastRandom)
  } else {
    lastTime = now
    fillRandom(lastRandom)
  }
  return encode(now, 10, alphabet) + encode(uint40(lastRandom, 0), 8, alphabet) + encode(uint40(lastRandom, 5), 8, alphabet)
}

/** `length` base32 digits of `alphabet` of a non-negative integer below 2^53, most significant first. */
function encode(value: number, length: number, alphabet: string): string {
  let out = ''
  for (let i = 0; i < length; i++) {
    out = alphabet[value % 32] + out
    value = Math.floor(value / 32)
  }
  return out
}

function uint40(bytes: Uint8Array, offset: number): number {
  let value = 0
  for (let i = offset; i < offset + 5; i++) value = value * 256 + (bytes[i] ?? 0)
  return value
}

function increment(bytes: Uint8Array): void {
  for (let i = bytes.length - 1; i >= 0; i--) {
    const next = (bytes[i] ?? 0) + 1
    bytes[i] = next & 0xff
    if (next <= 0xff) return
  }
}
