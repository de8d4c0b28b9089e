import { decodeBase64, encodeBase64 } from '../crypto/structured-fields.js'

const BASE64URL_RE = /^[A-Za-z0-9_-]*$/

/** Unpadded base64url (RFC 4648 section 5). */
export function toBase64url(bytes: Uint8Array): string {
  return encodeBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Strict unpadded base64url: undefined for anything that would not re-encode to the same text. */
export function fromBase64url(text: string): Uint8Array | undefined {
  if (!BASE64URL_RE.test(text) || text.length % 4 === 1) return undefined
  const standard = text.replace(/-/g, '+').replace(/_/g, '/')
  return decodeBase64(standard.padEnd(standard.length + ((4 - (standard.length % 4)) % 4), '='))
}

/** Describe a value for an "expected X, got Y" message without showing it (it may be a secret). */
export function describeSecret(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.length} bytes`
  if (typeof value === 'string') return value === '' ? 'an empty string' : `a ${value.length}-character string`
  if (value === null) return 'null'
  return typeof value
}

/** Describe a non-secret value for an "expected X, got Y" message. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (value instanceof Uint8Array) return `${value.length} bytes`
  return typeof value
}
