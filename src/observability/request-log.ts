import { LogController, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Config } from '../config/schema.js'

export type RequestLogLevel = 'info' | 'debug'

/**
 * The level of Fastify's two lines per request ("incoming request", "request completed"). In
 * production they are the access log a log pipeline keeps (status, time, and the request id that
 * problem responses and the audit trail carry), so info. In development a person reads the terminal,
 * where two lines a request scrolled away everything else (the operator token banner among them):
 * debug, and LOG_LEVEL=debug shows them.
 */
export function requestLogLevel(environment: Config['environment']): RequestLogLevel {
  return environment === 'production' ? 'info' : 'debug'
}

/** pino's level numbers: a line is written when its level is at least the logger's. */
const LEVEL_VALUES: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity }

/** Whether `log` writes lines at `level` (an unknown logger level writes everything, as before this check). */
function writes(log: FastifyRequest['log'], level: RequestLogLevel): boolean {
  return (LEVEL_VALUES[log.level] ?? 0) <= (LEVEL_VALUES[level] as number)
}

/**
 * Fastify's own request lines, at `level`; "request errored" and the rest keep Fastify's levels.
 * When the logger's level is above `level` (production at LOG_LEVEL=warn, development at info), the
 * lines are skipped before their fields are gathered: no objects and no clock read per request.
 */
export class RequestLogController extends LogController {
  readonly #level: RequestLogLevel

  constructor(level: RequestLogLevel) {
    super()
    this.#level = level
  }

  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request) || !writes(request.log, this.#level)) return
    request.log[this.#level]({ req: request }, 'incoming request')
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error !== null && error !== undefined) {
      super.requestCompleted(error, request, reply)
      return
    }
    if (this.isLogDisabled(request) || !writes(reply.log, this.#level)) return
    reply.log[this.#level]({ res: reply, responseTime: reply.elapsedTime }, 'request completed')
  }
}
