import { Problem } from '../errors/problem.js'

/** 429 rate_limited: the wait is sent twice, as the `Retry-After` header and as `retry_after` in the body. */
export function rateLimited(retryAfterSeconds: number, detail: string): Problem {
  return new Problem('rate_limited', detail, {
    extensions: { retry_after: retryAfterSeconds },
    headers: { 'retry-after': String(retryAfterSeconds) },
  })
}
