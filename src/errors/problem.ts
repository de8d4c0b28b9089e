import { CATALOGUE, type ErrorCode, type Reason } from './catalogue.js'

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** The problem+json body (RFC 9457) every refusal is rendered as. */
export interface ProblemBody {
  type: string
  title: string
  status: number
  code: ErrorCode
  reason: Reason
  detail: string
  request_id: string
  [extension: string]: unknown
}

/**
 * An expected refusal that goes over the wire: a reason from the catalogue, a detail safe to show the
 * client (never a secret), and optional extension members (e.g. `server_time`). Faults are other
 * Error types and are never rendered with their message.
 */
export class Problem extends Error {
  readonly reason: Reason
  readonly detail: string
  readonly extensions: Readonly<Record<string, unknown>>
  readonly headers: Readonly<Record<string, string>>
  /** For the log and the audit trail only (e.g. why a key is invalid); never rendered to the client. */
  readonly internal: string | undefined

  constructor(reason: Reason, detail?: string, options: { extensions?: Record<string, unknown>; headers?: Record<string, string>; internal?: string } = {}) {
    const entry = CATALOGUE[reason]
    // A refusal is a value, not a fault: no stack trace is captured (it costs microseconds per
    // refusal on the hot path, and nothing reads it; faults are other Error types and keep theirs).
    const stackTraceLimit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    super(detail ?? entry.meaning)
    Error.stackTraceLimit = stackTraceLimit
    this.name = 'Problem'
    this.reason = reason
    this.detail = detail ?? entry.meaning
    this.extensions = options.extensions ?? {}
    this.headers = options.headers ?? {}
    this.internal = options.internal
  }

  get status(): number {
    return CATALOGUE[this.reason].status
  }

  toBody(requestId: string): ProblemBody {
    const entry = CATALOGUE[this.reason]
    return {
      ...this.extensions,
      type: problemType(this.reason),
      title: entry.meaning,
      status: entry.status,
      code: entry.code,
      reason: this.reason,
      detail: this.detail,
      request_id: requestId,
    }
  }
}

export function problemType(reason: Reason): string {
  return `urn:mecharim:problem:${reason}`
}

export function isProblem(value: unknown): value is Problem {
  return value instanceof Problem
}
