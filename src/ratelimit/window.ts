import type { RateLimitResult } from './types.js'

/** A bucket's state: when its current window started (unix ms) and how many hits it counted. */
export interface WindowState {
  start: number
  count: number
}

/** Throws a TypeError/RangeError naming the first malformed argument of `RateLimiter.hit`. */
export function checkHit(bucket: string, limit: number, windowSeconds: number, now: number): void {
  if (typeof bucket !== 'string' || bucket === '') throw new TypeError(`expected bucket to be a non-empty string, got ${JSON.stringify(bucket)}`)
  if (!Number.isSafeInteger(limit) || limit <= 0) throw new RangeError(`expected limit to be a positive integer, got ${limit}`)
  if (!Number.isSafeInteger(windowSeconds) || windowSeconds <= 0) throw new RangeError(`expected windowSeconds to be a positive integer, got ${windowSeconds}`)
  if (!Number.isFinite(now) || now < 0) throw new RangeError(`expected now to be unix milliseconds, got ${now}`)
}

/** True when `state` is absent or its window has ended by `now`: the next hit starts a new window. */
export function windowEnded(state: WindowState | undefined, windowMs: number, now: number): boolean {
  return state === undefined || now >= state.start + windowMs
}

/**
 * The answer for a bucket whose window started at `start` and, after this hit, holds `count` hits.
 * Retry-After is capped at the window: a caller whose clock runs behind the one that started the
 * window must not be told to wait longer than a whole window.
 */
export function windowResult(allowed: boolean, start: number, count: number, limit: number, windowSeconds: number, now: number): RateLimitResult {
  const untilEnd = Math.ceil((start + windowSeconds * 1000 - now) / 1000)
  return {
    allowed,
    retryAfterSeconds: Math.min(windowSeconds, Math.max(1, untilEnd)),
    remaining: allowed ? Math.max(0, limit - count) : 0,
  }
}
