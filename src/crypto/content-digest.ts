/**
 * RFC 9530 `Content-Digest`: a Dictionary of algorithm -> Byte Sequence over the raw content bytes.
 * Parsing only (portable, no `node:` imports: the SDK serializes with it); the rule a request must meet
 * (hashing, comparing, which refusal) is `verifyContentDigest` in verify-signature.ts, on node:crypto.
 */
import { encodeBase64, parseDictionary } from './structured-fields.js'

export type ContentDigestAlgorithm = 'sha-256' | 'sha-512'

/** Digest lengths in bytes. */
export const CONTENT_DIGEST_LENGTHS: Readonly<Record<ContentDigestAlgorithm, number>> = { 'sha-256': 32, 'sha-512': 64 }
const ALGORITHMS: readonly ContentDigestAlgorithm[] = ['sha-256', 'sha-512']

export interface ContentDigest {
  algorithm: ContentDigestAlgorithm
  digest: Uint8Array
}

export type ContentDigestParseResult =
  | { ok: true; digests: ContentDigest[] }
  | { ok: false; reason: 'malformed' | 'unsupported_algorithm' }

/**
 * Parse a Content-Digest field value into every sha-256 and sha-512 member it has (sha-256 first,
 * whatever the field's order): a recipient that checks one of them only would let a wrong other one
 * through. Algorithms other than these two are ignored (RFC 9530 section 2 lets a recipient ignore
 * any digest); if none is left the result is `unsupported_algorithm`. Every sha-256/sha-512 member
 * present must be a Byte Sequence of the right length, else `malformed`; a repeated algorithm is
 * `malformed` too (structured-fields refuses duplicate members).
 */
export function parseContentDigest(header: string): ContentDigestParseResult {
  if (typeof header !== 'string') throw new TypeError(`expected Content-Digest as a string, got ${typeof header}`)
  const parsed = parseDictionary(header)
  if (!parsed.ok || parsed.value.size === 0) return { ok: false, reason: 'malformed' }
  const digests: ContentDigest[] = []
  for (const algorithm of ALGORITHMS) {
    const member = parsed.value.get(algorithm)
    if (member === undefined) continue
    if (member.type !== 'item' || member.value.type !== 'byte-sequence') return { ok: false, reason: 'malformed' }
    if (member.value.value.length !== CONTENT_DIGEST_LENGTHS[algorithm]) return { ok: false, reason: 'malformed' }
    digests.push({ algorithm, digest: member.value.value })
  }
  return digests.length === 0 ? { ok: false, reason: 'unsupported_algorithm' } : { ok: true, digests }
}

/** `sha-256=:<base64>:` — the field value a signer sends (one algorithm). */
export function serializeContentDigest(algorithm: ContentDigestAlgorithm, digest: Uint8Array): string {
  if (!ALGORITHMS.includes(algorithm)) throw new TypeError(`expected sha-256 or sha-512, got ${JSON.stringify(algorithm)}`)
  if (!(digest instanceof Uint8Array) || digest.length !== CONTENT_DIGEST_LENGTHS[algorithm]) {
    throw new TypeError(`expected a ${CONTENT_DIGEST_LENGTHS[algorithm]}-byte ${algorithm} digest, got ${digest instanceof Uint8Array ? `${digest.length} bytes` : typeof digest}`)
  }
  return `${algorithm}=:${encodeBase64(digest)}:`
}
