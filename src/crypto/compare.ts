import { timingSafeEqual } from 'node:crypto'

/**
 * Constant-time equality of two byte strings. The length is checked first (lengths are not secret:
 * every digest compared here has a fixed, public length), then the bytes in constant time.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  return timingSafeEqual(a, b)
}
