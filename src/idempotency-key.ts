/**
 * The Idempotency-Key request header (IETF httpapi draft "The Idempotency-Key HTTP Header Field"): an
 * RFC 8941 sf-string, e.g. `Idempotency-Key: "order-42"`. Its characters are the ones message ids
 * always allowed, so the string never needs an escape. A bare token of the same characters
 * (`Idempotency-Key: order-42`, as many clients send it) is read as the same key. Portable (the SDK
 * writes the header with the same rule the gateway reads it by).
 */

/** What a key may hold: 1 to 128 of A-Z a-z 0-9 . _ : - */
export const IDEMPOTENCY_KEY_RE = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * Key prefixes the gateway keeps for the messages it sends itself (a session's notifications are
 * `session:<id>:<event>`): a runtime may not send them, or it could pre-empt, and so silence, one.
 */
export const RESERVED_IDEMPOTENCY_PREFIXES: readonly string[] = ['session:', 'receipt:']

/** The reserved prefix a key starts with, or undefined. */
export function reservedIdempotencyPrefix(key: string): string | undefined {
  return RESERVED_IDEMPOTENCY_PREFIXES.find((prefix) => key.startsWith(prefix))
}

/** The key in a header value, or undefined when the value is not one. Surrounding spaces and tabs are not part of it. */
export function parseIdempotencyKey(value: string): string | undefined {
  if (typeof value !== 'string') throw new TypeError(`expected the Idempotency-Key value as a string, got ${typeof value}`)
  const trimmed = value.replace(/^[ \t]+|[ \t]+$/g, '')
  const inner = trimmed.length >= 2 && trimmed.startsWith('"') && trimmed.endsWith('"') ? trimmed.slice(1, -1) : trimmed
  return IDEMPOTENCY_KEY_RE.test(inner) ? inner : undefined
}

/** The header value for a key: the draft's sf-string form. */
export function serializeIdempotencyKey(key: string): string {
  if (typeof key !== 'string' || !IDEMPOTENCY_KEY_RE.test(key)) {
    throw new TypeError(`expected an idempotency key of 1 to 128 characters of A-Z a-z 0-9 . _ : -, got ${JSON.stringify(key)}`)
  }
  return `"${key}"`
}
