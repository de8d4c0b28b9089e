/** The problem+json body (RFC 9457) the gateway answers a refusal with. */
export interface ProblemBody {
  type: string
  title: string
  status: number
  code: string
  reason: string
  detail: string
  request_id: string
  [extension: string]: unknown
}

export interface MechaErrorInit {
  /** HTTP status; 0 when there was no HTTP answer. */
  status: number
  code: string
  reason: string
  detail: string
  requestId?: string
  problem?: ProblemBody
  retryAfterSeconds?: number
  cause?: unknown
}

/**
 * A call that did not succeed: the gateway refused it (`problem` holds its body), answered something
 * that is not the gateway's protocol, or could not be reached (`status` 0, code `UNAVAILABLE`, reason
 * `network_error`). `code` is the coarse class to switch on, `reason` the exact cause. Messages are
 * built from the gateway's public `detail` and never contain a credential.
 */
export class MechaError extends Error {
  /** HTTP status; 0 when there was no HTTP answer. */
  readonly status: number
  /** Coarse, stable class: UNAUTHENTICATED, FORBIDDEN, INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNAVAILABLE, ... */
  readonly code: string
  /** Exact, stable cause: e.g. `recipient_not_allowed`, `stale_timestamp`, `network_error`. */
  readonly reason: string
  /** What went wrong, for people. */
  readonly detail: string
  /** The gateway's request id (quote it when asking an operator), when it answered. */
  readonly requestId: string | undefined
  /** The raw problem+json body, when the gateway sent one. */
  readonly problem: ProblemBody | undefined
  /** From a Retry-After header (inbox_full, storage_full, rate limits), in seconds. */
  readonly retryAfterSeconds: number | undefined

  constructor(init: MechaErrorInit) {
    const suffix = init.requestId === undefined ? '' : ` (request ${init.requestId})`
    super(`${init.reason}: ${init.detail}${suffix}`, init.cause === undefined ? undefined : { cause: init.cause })
    this.name = 'MechaError'
    this.status = init.status
    this.code = init.code
    this.reason = init.reason
    this.detail = init.detail
    this.requestId = init.requestId
    this.problem = init.problem
    this.retryAfterSeconds = init.retryAfterSeconds
  }
}

/**
 * The gateway ended an open connection (GET /v1/connect) because its credentials no longer hold:
 * `reason` is the catalogue reason of its `closing` frame, or of the 1008 close from gateways that send
 * none: `invalid_key` (revoked, expired, rotated out, mecha deactivated), `signature_required`,
 * `bad_signature` (algorithm or public key removed). The same credentials would be refused, so the
 * connection does not reconnect. `status` is 0 (no HTTP answer) and `code` is `UNAUTHENTICATED`.
 */
export class ConnectionRevokedError extends MechaError {
  /** The WebSocket close code (1008), when the close was seen. */
  readonly closeCode: number | undefined

  constructor(reason: string, detail: string, closeCode: number | undefined) {
    super({ status: 0, code: 'UNAUTHENTICATED', reason, detail })
    this.name = 'ConnectionRevokedError'
    this.closeCode = closeCode
  }
}

/** The error for an HTTP answer that is not a success. */
export function errorFromResponse(status: number, headers: { get(name: string): string | null }, text: string): MechaError {
  const retryAfter = headers.get('retry-after')
  const retryAfterSeconds = retryAfter !== null && /^\d+$/.test(retryAfter) ? Number(retryAfter) : undefined
  const problem = parseProblem(text)
  if (problem !== undefined) {
    return new MechaError({
      status, code: problem.code, reason: problem.reason, detail: problem.detail, requestId: problem.request_id, problem,
      ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
    })
  }
  if (status >= 300 && status < 400) {
    const location = headers.get('location')
    return new MechaError({
      status, code: 'INVALID_ARGUMENT', reason: 'invalid_response',
      detail: `redirected${location === null ? '' : ` to ${location}`}; set url to the gateway's own origin`,
    })
  }
  return new MechaError({
    status, code: codeForStatus(status), reason: 'invalid_response',
    detail: `HTTP ${status} without a problem+json body: is this a mecharim gateway?`,
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
  })
}

/** No HTTP answer at all: refused, unresolvable, reset, or timed out. */
export function networkError(origin: string, cause: unknown, timedOut: boolean): MechaError {
  const why = timedOut ? 'timed out' : describeCause(cause)
  return new MechaError({ status: 0, code: 'UNAVAILABLE', reason: 'network_error', detail: `cannot reach ${origin} (${why})`, cause })
}

/** The gateway's clock from a `stale_timestamp` refusal (unix seconds): what a retry corrects by. */
export function staleServerTime(error: unknown): number | undefined {
  if (!(error instanceof MechaError) || error.reason !== 'stale_timestamp') return undefined
  const serverTime = error.problem?.server_time
  return typeof serverTime === 'number' && Number.isSafeInteger(serverTime) && serverTime > 0 ? serverTime : undefined
}

function parseProblem(text: string): ProblemBody | undefined {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof body !== 'object' || body === null) return undefined
  const fields = body as Record<string, unknown>
  for (const name of ['code', 'reason', 'detail', 'request_id'] as const) if (typeof fields[name] !== 'string') return undefined
  return body as ProblemBody
}

function codeForStatus(status: number): string {
  if (status === 401) return 'UNAUTHENTICATED'
  if (status === 403) return 'FORBIDDEN'
  if (status === 404) return 'NOT_FOUND'
  if (status === 409) return 'CONFLICT'
  if (status === 413 || status === 429) return 'RESOURCE_EXHAUSTED'
  if (status === 500) return 'INTERNAL'
  if (status >= 500 || status < 200) return 'UNAVAILABLE'
  return 'INVALID_ARGUMENT'
}

// Only a code or a short description: a fetch error message may quote request details.
function describeCause(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err
  const code = (cause as { code?: unknown } | undefined)?.code
  if (typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code)) return code
  return 'network failure'
}
