import type { RateLimiter } from './types.js'

/** Addresses this process remembers as throttled, at most; beyond it expired ones go, then the oldest. */
const MAX_THROTTLED = 100_000

export interface AuthFailureOptions {
  /** Failed authentications one address may make per window; 0 disables the guard (MECHA_AUTH_FAILURE_LIMIT). */
  limit: number
  /** The window, in seconds (MECHA_AUTH_FAILURE_WINDOW_SECONDS). */
  windowSeconds: number
}

/** Where a fault or a new throttle is reported (a Fastify request logger fits). */
export interface AuthFailureLog {
  warn(details: object, message: string): void
}

/**
 * Throttles key and operator-token guessing per client address. Every 401 the gateway or operator
 * authentication sends is counted in the shared bucket `authfail:<address>` (one round trip, on
 * Redis shared by every process); once an address has made `limit` failures within the window, every
 * request from it is refused with 429 until the window ends, before any key lookup or token
 * comparison, a valid credential included.
 *
 * The check is free: it reads only this process's list of addresses it knows to be over the limit,
 * filled in when counting a failure answers that the bucket is full. A well-behaved client therefore
 * costs no round trip at all, and a throttled one none either. The price of never reading the shared
 * bucket on the way in: a process learns that another one throttled an address when it counts that
 * address's next failure, so across N processes an address can make at most N - 1 failed attempts
 * beyond the limit per window.
 *
 * The address is Fastify's `request.ip`: the socket's peer, unless MECHA_TRUST_PROXY names the proxies
 * whose X-Forwarded-For is believed. Behind a proxy that is not trusted every client shares the
 * proxy's address (and one client's guessing throttles all of them); trusting a proxy that does not
 * overwrite X-Forwarded-For lets a client pick its address (and escape the throttle).
 */
export class AuthFailureGuard {
  readonly #limiter: RateLimiter
  readonly #limit: number
  readonly #windowSeconds: number
  /** Address -> until when (unix ms) it is known to be throttled. */
  readonly #throttled = new Map<string, number>()

  constructor(limiter: RateLimiter, options: AuthFailureOptions) {
    if (typeof limiter?.hit !== 'function') throw new TypeError(`expected a RateLimiter, got ${String(limiter)}`)
    if (!Number.isSafeInteger(options.limit) || options.limit < 0) throw new RangeError(`expected limit to be a non-negative integer, got ${options.limit}`)
    if (!Number.isSafeInteger(options.windowSeconds) || options.windowSeconds <= 0) {
      throw new RangeError(`expected windowSeconds to be a positive integer, got ${options.windowSeconds}`)
    }
    this.#limiter = limiter
    this.#limit = options.limit
    this.#windowSeconds = options.windowSeconds
  }

  get enabled(): boolean {
    return this.#limit > 0
  }

  /** No I/O: the seconds to wait when this process knows `address` to be throttled, else undefined. */
  throttledFor(address: string, now: number): number | undefined {
    const until = this.#throttled.get(address)
    if (until === undefined) return undefined
    if (until <= now) {
      this.#throttled.delete(address)
      return undefined
    }
    return Math.max(1, Math.ceil((until - now) / 1000))
  }

  /**
   * Counts one failed authentication from `address` (one round trip; none when disabled). Never
   * rejects: the 401 stands whatever happens here, so a limiter fault leaves the failure uncounted
   * and is logged. The moment an address becomes throttled in this process is logged too.
   */
  async recordFailure(address: string, now: number, log: AuthFailureLog): Promise<void> {
    if (!this.enabled) return
    let result
    try {
      result = await this.#limiter.hit(`authfail:${address}`, this.#limit, this.#windowSeconds, now)
    } catch (err) {
      log.warn({ err }, 'failed authentication not counted: rate limiter unavailable')
      return
    }
    if (result.allowed && result.remaining > 0) return
    this.#remember(address, now + result.retryAfterSeconds * 1000, now)
    log.warn({ client: address, limit: this.#limit, window_seconds: this.#windowSeconds, retry_after: result.retryAfterSeconds },
      'client address throttled: too many failed authentications')
  }

  #remember(address: string, until: number, now: number): void {
    this.#throttled.delete(address)
    this.#throttled.set(address, until)
    if (this.#throttled.size <= MAX_THROTTLED) return
    for (const [known, knownUntil] of this.#throttled) if (knownUntil <= now) this.#throttled.delete(known)
    for (const known of this.#throttled.keys()) {
      if (this.#throttled.size <= MAX_THROTTLED) return
      this.#throttled.delete(known)
    }
  }
}
