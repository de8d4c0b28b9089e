import { randomBytes } from 'node:crypto'
import { base32 } from './encoding.js'

/** Key ids: `mk` + 24 base32 characters (120 random bits). Public: they appear in tokens and keyid. */
export const KEY_ID_RE = /^mk[a-z2-7]{24}$/

export function newKeyId(): string {
  return `mk${base32(randomBytes(15))}`
}

/** Mecha ids: 1 to 64 of a-z 0-9 - _ . ; never only dots (so `.` and `..` cannot act as path segments). */
export const MECHA_ID_RE = /^(?!\.+$)[a-z0-9._-]{1,64}$/

export function isMechaId(value: string): boolean {
  return MECHA_ID_RE.test(value)
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
let lastTime = 0
let lastRandom = new Uint8Array(10)

/**
 * Time-ordered ids (ULID layout: 48-bit ms time, 80 random bits, Crockford base32), monotonic within a
 * process, so that audit events sort by time and `before` pagination is a range read.
 */
export function newEventId(now: number = Date.now()): string {
  if (now <= lastTime) {
    now = lastTime
    increment(lastRandom)
  } else {
    lastTime = now
    lastRandom = new Uint8Array(randomBytes(10))
  }
  let time = ''
  let t = now
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time
    t = Math.floor(t / 32)
  }
  let random = ''
  let acc = 0n
  for (const byte of lastRandom) acc = (acc << 8n) | BigInt(byte)
  for (let i = 0; i < 16; i++) {
    random = CROCKFORD[Number(acc & 31n)] + random
    acc >>= 5n
  }
  return time + random
}

export const EVENT_ID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/

function increment(bytes: Uint8Array): void {
  for (let i = bytes.length - 1; i >= 0; i--) {
    const next = (bytes[i] ?? 0) + 1
    bytes[i] = next & 0xff
    if (next <= 0xff) return
  }
}
