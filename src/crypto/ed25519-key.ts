import { Point } from '@noble/ed25519'

/**
 * An Ed25519 public key is accepted at registration only if it decodes as a curve point under
 * strict RFC 8032 rules and is not of small order: a small-order key (e.g. all zeros) admits
 * signatures that verify for many messages, so registering one would weaken the key's policy.
 */
export function isUsableEd25519PublicKey(bytes: Uint8Array): boolean {
  if (bytes.length !== 32) return false
  try {
    return !Point.fromBytes(bytes, false).isSmallOrder()
  } catch {
    return false
  }
}
