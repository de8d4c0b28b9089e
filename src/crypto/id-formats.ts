/**
 * The formats of the gateway's ids and tokens, and reading the time of a time-ordered id: pure, so
 * that the SDK and the JSON schemas check the same patterns as the server (ids.ts and token.ts make
 * ids and tokens, with node:crypto, and are server-only).
 */

/** Crockford base32, upper case: the digits of time-ordered ids (ULID layout). */
export const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'

/** Key ids: `mk` + 24 base32 characters (120 random bits). Public: they appear in tokens and keyid. */
export const KEY_ID_RE = /^mk[a-z2-7]{24}$/

/** Mecha ids: 1 to 64 of a-z 0-9 - _ . ; never only dots (so `.` and `..` cannot act as path segments). */
export const MECHA_ID_RE = /^(?!\.+$)[a-z0-9._-]{1,64}$/

/** Mecha key tokens (token.ts): `mecha_` + key id + `_` + secret (52 base32) + `_` + checksum (7 base32); groups: key id, secret, checksum. */
export const TOKEN_RE = /^mecha_(mk[a-z2-7]{24})_([a-z2-7]{52})_([a-z2-7]{7})$/

export function isMechaId(value: string): boolean {
  return MECHA_ID_RE.test(value)
}

export const EVENT_ID_RE = /^[0-9A-HJKMNP-TV-Z]{26}$/

/** The unix ms time of a time-ordered id (its first 10 characters, either case): newEventId's `now`. */
export function idTime(id: string): number {
  let ms = 0
  for (let i = 0; i < 10; i++) {
    const char = id[i]
    const digit = char === undefined ? -1 : CROCKFORD.indexOf(char.toUpperCase())
    if (digit < 0) throw new TypeError(`expected a time-ordered id, got ${JSON.stringify(id)}`)
    ms = ms * 32 + digit
  }
  return ms
}
