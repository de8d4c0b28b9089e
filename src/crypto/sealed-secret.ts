import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { fromBase64url } from './encoding.js'

/**
 * AES-256-GCM sealing of HMAC signing secrets under the master key. The associated data binds the
 * ciphertext to its key id and generation, so a sealed secret copied onto another key record does
 * not open. Format: `v1.<iv base64url>.<ciphertext||tag base64url>`.
 */
export class SecretSealer {
  readonly #key: Buffer

  constructor(masterKey: Uint8Array) {
    if (masterKey.byteLength !== 32) throw new TypeError(`expected a 32-byte master key, got ${masterKey.byteLength} bytes`)
    this.#key = Buffer.from(masterKey)
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    cipher.setAAD(Buffer.from(context, 'utf8'))
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()])
    return `v1.${iv.toString('base64url')}.${body.toString('base64url')}`
  }

  /** Returns undefined when the sealed value is malformed or does not authenticate. */
  open(sealed: string, context: string): string | undefined {
    const parts = sealed.split('.')
    if (parts.length !== 3 || parts[0] !== 'v1') return undefined
    const iv = fromBase64url(parts[1] ?? '')
    const body = fromBase64url(parts[2] ?? '')
    if (iv === undefined || body === undefined || iv.length !== 12 || body.length < 16) return undefined
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.#key, iv)
      decipher.setAAD(Buffer.from(context, 'utf8'))
      decipher.setAuthTag(body.subarray(body.length - 16))
      return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8')
    } catch {
      return undefined
    }
  }
}

/** Signing secrets: `mss_` + 32 random bytes base64url. The HMAC key is this string's UTF-8 bytes. */
export function newSigningSecret(): string {
  return `mss_${randomBytes(32).toString('base64url')}`
}
