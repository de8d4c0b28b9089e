import { STATUS_CODES, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { Reason } from './catalogue.js'
import { DependencyUnavailableError, ReplayCacheUnsafeError, type Dependency } from './faults.js'
import { Problem, PROBLEM_CONTENT_TYPE } from './problem.js'
import { unsupportedMediaType } from './unsupported-media-type.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The catalogue reason of the refusal sent for this request, for audit and metrics. */
    refusalReason?: Reason
  }
}

const DEPENDENCY_REASONS: Record<Dependency, Reason> = {
  store: 'store_unavailable',
  replay_cache: 'replay_cache_unavailable',
  transport: 'transport_unavailable',
}

/** Fastify's own client errors, by code, mapped onto the catalogue. */
const FASTIFY_CODES: Record<string, Reason> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'empty_body',
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'invalid_request',
  FST_ERR_BAD_URL: 'invalid_request',
  FST_ERR_MAX_PARAM_LENGTH: 'uri_too_long',
}

/** Fields that carry identifiers: a malformed one is `invalid_id` rather than the generic `invalid_request`. */
const ID_FIELD_RE = /(^|\/)(id|keyId|to|from|mecha|reply_to)$/

/** What a request sent that a refusal may name (a 415 names the Content-Type received). */
export interface RefusedRequest {
  headers: Record<string, string | string[] | undefined>
}

/** Turn anything thrown into a catalogue Problem; faults keep their cause for the log only. */
export function toProblem(error: unknown, request?: RefusedRequest): { problem: Problem; fault: boolean } {
  if (error instanceof Problem) return { problem: error, fault: false }
  if (error instanceof ReplayCacheUnsafeError) return { problem: new Problem('replay_cache_unsafe', error.publicDetail), fault: true }
  if (error instanceof DependencyUnavailableError) return { problem: new Problem(DEPENDENCY_REASONS[error.dependency]), fault: true }
  const fe = error as Partial<FastifyError>
  if (fe.validation !== undefined) {
    const first = fe.validation[0]
    if (fe.validationContext === 'params' || (first !== undefined && ID_FIELD_RE.test(first.instancePath) && ['pattern', 'maxLength', 'minLength', 'type'].includes(first.keyword))) {
      return { problem: new Problem('invalid_id', `${fe.validationContext ?? 'request'}${first?.instancePath ?? ''} ${first?.message ?? 'is not a valid id'}`), fault: false }
    }
    return { problem: new Problem('invalid_request', `${fe.validationContext ?? 'request'}${fe.message?.replace(/^(body|querystring|params|headers)/, '') ?? ''}`), fault: false }
  }
  if (fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { problem: unsupportedMediaType(headerValue(request?.headers['content-type'])), fault: false }
  if (typeof fe.code === 'string' && FASTIFY_CODES[fe.code] !== undefined) return { problem: new Problem(FASTIFY_CODES[fe.code] as Reason), fault: false }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { problem: new Problem(fe.statusCode === 404 ? 'route_not_found' : fe.statusCode === 413 ? 'body_too_large' : 'invalid_request'), fault: false }
  }
  return { problem: new Problem('internal_error'), fault: true }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, problem: Problem): FastifyReply {
  request.refusalReason = problem.reason
  for (const [name, value] of Object.entries(problem.headers)) void reply.header(name, value)
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem.toBody(request.id))
}

/** One error handler and one not-found handler for the whole app: every refusal is problem+json. */
export const problemHandler = fp(async function problemHandler(app: FastifyInstance): Promise<void> {
  app.setErrorHandler(async (error, request, reply) => {
    const { problem, fault } = toProblem(error, request)
    if (fault) request.log.error({ err: error, reason: problem.reason }, 'request failed')
    return sendProblem(request, reply, problem)
  })
  app.setNotFoundHandler(async (request, reply) => sendProblem(request, reply, new Problem('route_not_found')))
}, { name: 'mecharim-problems' })

/** The limits a connection-level refusal names in its detail. */
export interface ClientErrorLimits {
  headerLimitBytes: number
  requestTimeoutSeconds: number
}

/**
 * What Node's HTTP parser refused before a request existed (`clientError`), as a catalogue Problem.
 * Anything other than oversized headers and the request timeout (a malformed request line, a bad
 * header) is `invalid_request`.
 */
export function clientErrorProblem(errorCode: string | undefined, limits: ClientErrorLimits): Problem {
  switch (errorCode) {
    case 'HPE_HEADER_OVERFLOW':
      return new Problem('header_too_large', `the request headers exceed ${limits.headerLimitBytes} bytes`)
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new Problem('request_timeout', `the request was not received within ${limits.requestTimeoutSeconds} s`)
    default:
      return new Problem('invalid_request', 'the request is not well-formed HTTP/1.1')
  }
}

/**
 * The raw HTTP/1.1 response for a connection-level refusal: problem+json like every other refusal,
 * with `Connection: close` (the parser cannot go on with this connection).
 */
export function clientErrorResponse(problem: Problem, requestId: string): string {
  const body = JSON.stringify(problem.toBody(requestId))
  return [
    `HTTP/1.1 ${problem.status} ${STATUS_CODES[problem.status] ?? ''}`,
    `Content-Type: ${PROBLEM_CONTENT_TYPE}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    `X-Request-Id: ${requestId}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n')
}

/**
 * Fastify's `clientErrorHandler`: answers what the HTTP parser refused (oversized headers, a request not
 * received in time, malformed HTTP) before any route, hook or error handler could see it.
 */
export function clientErrorHandler(limits: ClientErrorLimits, newRequestId: () => string): (this: FastifyInstance, error: Error & { code?: string }, socket: Socket) => void {
  return function answerClientError(error, socket) {
    // A reset connection has nobody to answer.
    if (error.code === 'ECONNRESET' || socket.destroyed) return
    const requestId = newRequestId()
    const problem = clientErrorProblem(error.code, limits)
    this.log.debug({ reqId: requestId, reason: problem.reason, err: { code: error.code, message: error.message } }, 'refused before routing')
    // As Node does by default: answer only if no response on this connection has started, then close
    // at once (a client still sending its headers must not keep the socket, nor hold shutdown, open).
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage
    if (socket.writable && inFlight?.headersSent !== true) socket.write(clientErrorResponse(problem, requestId))
    socket.destroy(error)
  }
}

/**
 * The HTTP server's `connect` listener: a CONNECT request (a proxy tunnel) reaches no route here. Node
 * closes it without an answer when nothing listens; it gets `404 route_not_found`, like any other
 * method and path the server has no route for, and the connection is closed.
 */
export function refuseConnect(newRequestId: () => string): (request: IncomingMessage, socket: Duplex) => void {
  return (_request, socket) => {
    socket.on('error', () => {})
    socket.end(clientErrorResponse(new Problem('route_not_found', 'this server is not a proxy: CONNECT has no route'), newRequestId()))
  }
}
