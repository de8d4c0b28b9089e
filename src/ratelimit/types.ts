/** What one counted request learns about its bucket. */
export interface RateLimitResult {
  /** The hit fitted the budget and was counted. A refused hit is not counted. */
  allowed: boolean
  /**
   * Whole seconds (at least 1) until the bucket's current window ends and its budget is whole again:
   * when `allowed` is false, how long to wait before retrying (the `Retry-After` value).
   */
  retryAfterSeconds: number
  /** Hits still allowed in the current window after this one (0 when refused). */
  remaining: number
}

/**
 * A request counter per bucket (`key:<key id>`, `authfail:<client address>`), chosen once at start:
 * in memory for the embedded single-process mode, on Redis when several gateway processes share the
 * budget. Both implement the same window (window.ts) and pass one contract suite.
 *
 * The algorithm is a fixed window anchored at the bucket's first hit: a window of `windowSeconds`
 * starts with the first hit after the previous window ended, and within it at most `limit` hits are
 * allowed. It never refuses a request a stricter reading would allow, keeps two numbers per bucket
 * and gives an exact Retry-After; the price is the usual fixed-window burst: up to 2 x `limit` hits
 * can fall within one window's length around the moment one window ends and the next begins.
 *
 * `now` is the caller's clock (unix ms), so the answer does not depend on which server counted. The
 * limit and window are passed on every hit: a changed key policy applies from the next request.
 *
 * Implementations throw DependencyUnavailableError when they cannot answer; the gateway then fails
 * closed (503).
 */
export interface RateLimiter {
  hit(bucket: string, limit: number, windowSeconds: number, now: number): Promise<RateLimitResult>
}
