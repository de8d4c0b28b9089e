import type { NonceClaim } from '../transport/types.js'

/** Throws a TypeError/RangeError naming the first malformed field of a claim. */
export function checkNonceClaim(claim: NonceClaim): void {
  if (typeof claim !== 'object' || claim === null) throw new TypeError(`expected a nonce claim, got ${String(claim)}`)
  if (typeof claim.keyId !== 'string' || claim.keyId === '') throw new TypeError(`expected claim.keyId to be a non-empty string, got ${JSON.stringify(claim.keyId)}`)
  if (typeof claim.nonce !== 'string' || claim.nonce === '') throw new TypeError(`expected claim.nonce to be a non-empty string, got ${JSON.stringify(claim.nonce)}`)
  if (typeof claim.target !== 'string' || claim.target === '') throw new TypeError(`expected claim.target to be a mecha id, got ${JSON.stringify(claim.target)}`)
  if (!Number.isFinite(claim.timestamp)) throw new RangeError(`expected claim.timestamp to be unix seconds, got ${claim.timestamp}`)
  if (!Number.isSafeInteger(claim.ttlSeconds) || claim.ttlSeconds <= 0) {
    throw new RangeError(`expected claim.ttlSeconds to be a positive integer, got ${claim.ttlSeconds}`)
  }
  if (!Number.isFinite(claim.now) || claim.now < 0) throw new RangeError(`expected claim.now to be unix milliseconds, got ${claim.now}`)
}
