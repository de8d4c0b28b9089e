import { randomBytes } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { base32 } from './encoding.js'
import { sha256 } from './digest.js'
import { KEY_ID_RE, TOKEN_RE } from './id-formats.js'

/**
 * Mecha key tokens: `mecha_<key id>_<secret>_<checksum>`.
 *
 * - the key id (`mk` + 24 base32) makes lookup one read;
 * - the secret is 32 random bytes (256 bits) in base32 (52 characters);
 * - the checksum is CRC-32 of everything before it, 7 base32 characters: it lets the gateway and secret
 *   scanners reject typos and truncations without a store read. It is not a security boundary.
 *
 * Only SHA-256 of the secret part is stored.
 */
export const TOKEN_PREFIX = 'mecha_'
export const TOKEN_LENGTH = 6 + 26 + 1 + 52 + 1 + 7

export interface ParsedToken {
  keyId: string
  secret: string
}

export interface IssuedToken {
  token: string
  digest: string
}

export function newToken(keyId: string): IssuedToken {
  const secret = base32(randomBytes(32))
  return { token: formatToken(keyId, secret), digest: tokenDigest(secret) }
}

/** Assemble a token from its parts (exported for the protocol test vectors). */
export function formatToken(keyId: string, secret: string): string {
  if (!KEY_ID_RE.test(keyId)) throw new TypeError(`expected a key id, got ${JSON.stringify(keyId)}`)
  if (!/^[a-z2-7]{52}$/.test(secret)) throw new TypeError('expected a 52-character base32 secret')
  const body = `${TOKEN_PREFIX}${keyId}_${secret}`
  return `${body}_${checksum(body)}`
}

export type TokenParseResult = { ok: true; value: ParsedToken } | { ok: false; reason: 'malformed' | 'checksum' }

export function parseToken(token: string): TokenParseResult {
  if (token.length !== TOKEN_LENGTH) return { ok: false, reason: 'malformed' }
  const match = TOKEN_RE.exec(token)
  if (match === null) return { ok: false, reason: 'malformed' }
  const [, keyId, secret, sum] = match as unknown as [string, string, string, string]
  if (checksum(`${TOKEN_PREFIX}${keyId}_${secret}`) !== sum) return { ok: false, reason: 'checksum' }
  return { ok: true, value: { keyId, secret } }
}

/** base64url SHA-256 of the secret part: what the store keeps. */
export function tokenDigest(secret: string): string {
  return sha256(secret).toString('base64url')
}

function checksum(body: string): string {
  const value = crc32(body) >>> 0
  const bytes = Buffer.alloc(4)
  bytes.writeUInt32BE(value)
  return base32(bytes)
}
