/** How long a credential that authenticated from an address stays known there. */
export const KNOWN_CREDENTIAL_MS = 24 * 60 * 60 * 1000
/** Pairs remembered at most (about 100 bytes each); beyond it the least recently authenticated goes. */
export const MAX_KNOWN_CREDENTIALS = 100_000
/** A pair refreshed less than this long ago is not refreshed again: the hot path skips the Map churn. */
const REFRESH_MS = 60_000

/**
 * (address bucket, credential identity) pairs that authenticated successfully in the last 24 hours,
 * so a throttled address still lets its rightful holders through. Per process and in memory, on
 * purpose: the exception must cost no I/O on the way in, and a process that has not seen a credential
 * succeed simply throttles it like any other until it does (a restart or another instance forgets,
 * and then the holder waits out one window at worst). Bounded: least recently authenticated first out,
 * so a flood of new pairs evicts old ones, never grows the process.
 */
export class KnownCredentials {
  readonly #maxEntries: number
  /** `<bucket> <identity>` -> until when (unix ms) it is known; Map order is the LRU order. */
  readonly #until = new Map<string, number>()

  constructor(maxEntries = MAX_KNOWN_CREDENTIALS) {
    if (!Number.isSafeInteger(maxEntries) || maxEntries <= 0) throw new RangeError(`expected maxEntries to be a positive integer, got ${maxEntries}`)
    this.#maxEntries = maxEntries
  }

  get size(): number {
    return this.#until.size
  }

  /** The map key of a (bucket, identity) pair: built once per attempt, so its hash is computed once. */
  static pair(bucket: string, identity: string): string {
    return `${bucket} ${identity}`
  }

  /** Whether `pair` (KnownCredentials.pair) authenticated here within the last 24 hours. */
  has(pair: string, now: number): boolean {
    const until = this.#until.get(pair)
    return until !== undefined && until > now
  }

  /**
   * `pair` authenticated at `now`: known for 24 hours from now. A pair refreshed less than a minute
   * ago is left as it is (no Map churn on the hot path).
   */
  remember(pair: string, now: number): void {
    const until = this.#until.get(pair)
    if (until !== undefined && until - now > KNOWN_CREDENTIAL_MS - REFRESH_MS) return
    this.#until.delete(pair)
    this.#until.set(pair, now + KNOWN_CREDENTIAL_MS)
    if (this.#until.size <= this.#maxEntries) return
    const oldest = this.#until.keys().next().value as string
    this.#until.delete(oldest)
  }
}
