/** RFC 4648 base32, lowercase, unpadded: case-insensitive-safe and free of `_` and `-`. */
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

export function base32(bytes: Uint8Array): string {
  let out = ''
  let buffer = 0
  let bits = 0
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31]
      bits -= 5
    }
    buffer &= (1 << bits) - 1
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31]
  return out
}

export const BASE32_RE = /^[a-z2-7]+$/
export const BASE64URL_RE = /^[A-Za-z0-9_-]+$/

export function toBase64url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url')
}

/** Strict unpadded base64url decode: returns undefined for anything that does not round-trip. */
export function fromBase64url(text: string): Buffer | undefined {
  if (!BASE64URL_RE.test(text)) return undefined
  const bytes = Buffer.from(text, 'base64url')
  return bytes.toString('base64url') === text ? bytes : undefined
}
