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

/** Fastify's own request lines, at `level`; "request errored" and the rest keep Fastify's levels. */
export class RequestLogController extends LogController {
  readonly #level: RequestLogLevel

  constructor(level: RequestLogLevel) {
    super()
    this.#level = level
  }

  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return
    request.log[this.#level]({ req: request }, 'incoming request')
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error !== null && error !== undefined) {
      super.requestCompleted(error, request, reply)
      return
    }
    if (this.isLogDisabled(request)) return
    reply.log[this.#level]({ res: reply, responseTime: reply.elapsedTime }, 'request completed')
  }
}
