import { sha256 } from '../crypto/digest.js'
import type { Problem } from '../errors/problem.js'
import { addressBucket } from './address-bucket.js'
import { KnownCredentials } from './known-credentials.js'
import { rateLimited } from './refusal.js'
import type { RateLimiter } from './types.js'

/** Address buckets this process keeps a local count for, at most; beyond it the least recently counted go. */
const MAX_ADDRESSES = 100_000
/** The wait sent when an address's budget is taken by attempts still in flight: they settle within moments. */
const IN_FLIGHT_RETRY_SECONDS = 1

export interface AuthFailureOptions {
  /** Failed authentications one address may make per window; 0 disables the guard (MECHA_AUTH_FAILURE_LIMIT). */
  limit: number
  /** The window, in seconds (MECHA_AUTH_FAILURE_WINDOW_SECONDS). */
  windowSeconds: number
  /** IPv6 addresses count per network of this many bits (MECHA_AUTH_FAILURE_IPV6_PREFIX, default 64). */
  ipv6PrefixLength?: number
  /** Credentials remembered as known-good per process, at most (default 100 000). */
  maxKnownCredentials?: number
  /** The limit for loopback clients (127.0.0.0/8, ::1); default `limit`. Development raises it (config). */
  loopbackLimit?: number
  /** Appended to the 429's detail (development: which variable to change). */
  hint?: string
}

/** Where a fault or a new throttle is reported (a Fastify request logger fits). */
export interface AuthFailureLog {
  warn(details: object, message: string): void
}

/** One admitted unauthenticated attempt. Exactly one method takes effect; the rest are no-ops. */
export interface AuthAttempt {
  /** The credential verified: frees the in-flight slot and remembers the credential as known-good here for 24 h. */
  succeeded(): void
  /**
   * A 401 before the credential verified: counted locally at once (the next admission already sees
   * it), then in the shared bucket. Never rejects: a limiter fault is logged and the 401 stands.
   */
  failed(log: AuthFailureLog): Promise<void>
  /** Neither (a fault, another refusal, the client gone): frees the in-flight slot. */
  release(): void
}

/** The answer to an address that may not attempt now. */
export interface AuthThrottled {
  retryAfterSeconds: number
  /** Advice for the 429's detail (development only). */
  hint?: string
}

/** The credential identity a runtime key presents: its key id (public, so it only selects, never proves). */
export function keyIdentity(keyId: string): string {
  return `key:${keyId}`
}

/** The credential identity an operator token presents: 128 bits of its SHA-256, never the token itself. */
export function operatorTokenIdentity(token: string): string {
  return `operator:${sha256(token).subarray(0, 16).toString('hex')}`
}

/** 429 rate_limited for a throttled address, the same on every surface. */
export function throttledRefusal(throttled: AuthThrottled): Problem {
  const wait = throttled.retryAfterSeconds
  return rateLimited(wait, `too many failed authentications from this address; retry after ${wait} s${throttled.hint ?? ''}`)
}

/** What this process knows of one address bucket. */
interface AddressState {
  /** The local window (unix ms), anchored at its first failure like the shared limiter's; 0: none open. */
  windowStart: number
  /** Failures allowed per window for this bucket (loopback may differ). */
  limit: number
  failures: number
  /** Attempts admitted and not yet settled: each may become a failure. */
  inFlight: number
  /** Until when (unix ms) the bucket is throttled, from the local count or the shared bucket. */
  throttledUntil: number
}

/** The attempt of a disabled guard, or where there is none: settling it does nothing. */
export const UNTHROTTLED: AuthAttempt = { succeeded: () => {}, failed: async () => {}, release: () => {} }

/**
 * Throttles key and operator-token guessing per client address (per IPv6 network, see
 * addressBucket). An address may have at most `limit` failed authentications per window, and its
 * failures plus its unauthenticated attempts still in flight may never exceed `limit`: `admit` counts
 * synchronously, before the caller does any I/O, so a burst of N concurrent guesses is evaluated at
 * most `limit` times per window in one process, however slow the key lookup.
 *
 * Every failure is also counted in the shared bucket `authfail:<bucket>` (on Redis shared by every
 * process), after the local count; the answer teaches the local view (the bucket's count, and that it
 * is throttled). No I/O on the way in: a process learns of another process's failures when it counts
 * its own next failure for that address, so across N processes an address can make at most
 * (N - 1) x limit failures beyond the limit in a window, and usually far fewer.
 *
 * An address over its limit is refused without evaluation, except for a credential that
 * authenticated from it in the last 24 hours (KnownCredentials: per process, bounded): its holder
 * behind the same NAT keeps working while the guessing next to it is refused. Such attempts take no
 * in-flight slot; their failures count like any other.
 *
 * The address is Fastify's `request.ip`: the socket's peer, unless MECHA_TRUST_PROXY names the proxies
 * whose X-Forwarded-For is believed.
 */
export class AuthFailureGuard {
  readonly #limiter: RateLimiter
  readonly #limit: number
  readonly #loopbackLimit: number
  readonly #hint: string | undefined
  readonly #windowSeconds: number
  readonly #ipv6PrefixLength: number
  readonly #known: KnownCredentials
  readonly #addresses = new Map<string, AddressState>()
  /** What an attempt calls when it settles: one object per guard, not closures per attempt. */
  readonly #settlement: Settlement = {
    remember: (pair, now) => this.#known.remember(pair, now),
    countFailure: (bucket, state, now, log) => this.#countFailure(bucket, state, now, log),
  }

  constructor(limiter: RateLimiter, options: AuthFailureOptions) {
    if (typeof limiter?.hit !== 'function') throw new TypeError(`expected a RateLimiter, got ${String(limiter)}`)
    if (!Number.isSafeInteger(options.limit) || options.limit < 0) throw new RangeError(`expected limit to be a non-negative integer, got ${options.limit}`)
    if (!Number.isSafeInteger(options.windowSeconds) || options.windowSeconds <= 0) {
      throw new RangeError(`expected windowSeconds to be a positive integer, got ${options.windowSeconds}`)
    }
    const prefix = options.ipv6PrefixLength ?? 64
    if (!Number.isSafeInteger(prefix) || prefix < 0 || prefix > 128) throw new RangeError(`expected ipv6PrefixLength to be an integer from 0 to 128, got ${prefix}`)
    this.#limiter = limiter
    this.#limit = options.limit
    this.#windowSeconds = options.windowSeconds
    this.#ipv6PrefixLength = prefix
    this.#known = new KnownCredentials(options.maxKnownCredentials)
    const loopbackLimit = options.loopbackLimit ?? options.limit
    if (!Number.isSafeInteger(loopbackLimit) || loopbackLimit < 0) throw new RangeError(`expected loopbackLimit to be a non-negative integer, got ${loopbackLimit}`)
    this.#loopbackLimit = loopbackLimit
    this.#hint = options.hint
  }

  get enabled(): boolean {
    return this.#limit > 0
  }

  /**
   * No I/O. Admit an unauthenticated attempt from `address` presenting `identity` (keyIdentity or
   * operatorTokenIdentity; undefined when none could be parsed), or say how long to wait. The caller
   * must settle an admitted attempt exactly once (a backstop `release` at the end of the request is
   * safe: later calls are no-ops).
   */
  admit(address: string, identity: string | undefined, now: number): AuthAttempt | AuthThrottled {
    if (!this.enabled) return UNTHROTTLED
    const bucket = addressBucket(address, this.#ipv6PrefixLength)
    const state = this.#state(bucket, now, isLoopback(address) ? this.#loopbackLimit : this.#limit)
    const pair = identity === undefined ? undefined : KnownCredentials.pair(bucket, identity)
    if (pair !== undefined && this.#known.has(pair, now)) return new Attempt(this.#settlement, bucket, state, pair, now, false)
    const hint = this.#hint === undefined ? {} : { hint: this.#hint }
    if (state.throttledUntil > now) return { retryAfterSeconds: Math.max(1, Math.ceil((state.throttledUntil - now) / 1000)), ...hint }
    if (state.failures + state.inFlight >= state.limit) return { retryAfterSeconds: IN_FLIGHT_RETRY_SECONDS, ...hint }
    state.inFlight++
    return new Attempt(this.#settlement, bucket, state, pair, now, true)
  }

  async #countFailure(bucket: string, state: AddressState, now: number, log: AuthFailureLog): Promise<void> {
    this.#openWindow(state, now)
    state.failures++
    this.#touch(bucket, state)
    if (state.failures >= state.limit) this.#throttle(bucket, state, state.windowStart + this.#windowSeconds * 1000, now, log)
    let result
    try {
      result = await this.#limiter.hit(`authfail:${bucket}`, state.limit, this.#windowSeconds, now)
    } catch (err) {
      log.warn({ err }, 'failed authentication not counted in the shared bucket: rate limiter unavailable')
      return
    }
    if (result.allowed && result.remaining > 0) {
      // Other processes' failures count here too, from the next admission on.
      state.failures = Math.max(state.failures, state.limit - result.remaining)
      return
    }
    this.#throttle(bucket, state, now + result.retryAfterSeconds * 1000, now, log)
  }

  #throttle(bucket: string, state: AddressState, until: number, now: number, log: AuthFailureLog): void {
    const already = state.throttledUntil > now
    state.throttledUntil = Math.max(state.throttledUntil, until)
    if (already) return
    log.warn({ client: bucket, limit: state.limit, window_seconds: this.#windowSeconds, retry_after: Math.ceil((state.throttledUntil - now) / 1000) },
      'client address throttled: too many failed authentications')
  }

  #openWindow(state: AddressState, now: number): void {
    if (state.windowStart !== 0 && now < state.windowStart + this.#windowSeconds * 1000) return
    state.windowStart = now
    state.failures = 0
  }

  #state(bucket: string, now: number, limit: number): AddressState {
    let state = this.#addresses.get(bucket)
    if (state === undefined) {
      state = { windowStart: 0, limit, failures: 0, inFlight: 0, throttledUntil: 0 }
      this.#touch(bucket, state)
    } else if (state.windowStart !== 0 && now >= state.windowStart + this.#windowSeconds * 1000) {
      state.windowStart = 0
      state.failures = 0
    }
    return state
  }

  /** Most recently counted last; over the cap, the least recently counted bucket is forgotten. */
  #touch(bucket: string, state: AddressState): void {
    this.#addresses.delete(bucket)
    this.#addresses.set(bucket, state)
    if (this.#addresses.size <= MAX_ADDRESSES) return
    this.#addresses.delete(this.#addresses.keys().next().value as string)
  }
}

/** What a settling attempt asks of its guard. */
interface Settlement {
  remember(pair: string, now: number): void
  countFailure(bucket: string, state: AddressState, now: number, log: AuthFailureLog): Promise<void>
}

/**
 * One admitted attempt (see AuthAttempt): a class rather than closures, since every runtime request
 * makes one. `pair` is its KnownCredentials key, built once; undefined when no identity was parsed.
 */
class Attempt implements AuthAttempt {
  #settled = false

  constructor(
    private readonly settlement: Settlement,
    private readonly bucket: string,
    private readonly state: AddressState,
    private readonly pair: string | undefined,
    private readonly now: number,
    private readonly holdsSlot: boolean,
  ) {}

  succeeded(): void {
    if (this.#settle() && this.pair !== undefined) this.settlement.remember(this.pair, this.now)
  }

  async failed(log: AuthFailureLog): Promise<void> {
    if (this.#settle()) await this.settlement.countFailure(this.bucket, this.state, this.now, log)
  }

  release(): void {
    this.#settle()
  }

  #settle(): boolean {
    if (this.#settled) return false
    this.#settled = true
    if (this.holdsSlot) this.state.inFlight--
    return true
  }
}

/** 127.0.0.0/8, ::1 and their IPv4-mapped form: a developer's own machine. */
function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.')
}
