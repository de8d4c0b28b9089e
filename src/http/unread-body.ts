import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { sendProblem } from '../errors/handler.js'
import { Problem } from '../errors/problem.js'

/** True when the request announces body bytes (a non-zero Content-Length, or chunked Transfer-Encoding). */
export function announcesBody(request: FastifyRequest): boolean {
  const { headers } = request
  if (headers['transfer-encoding'] !== undefined) return true
  const length = headers['content-length']
  return length !== undefined && length !== '0'
}

/**
 * For a response sent without reading the request's body: close the connection after it. Node would
 * otherwise read and discard the whole body (up to the request timeout) to reuse the connection,
 * which is the work answering early meant to avoid.
 */
export function closeIfBodyUnread(request: FastifyRequest, reply: FastifyReply): void {
  if (announcesBody(request)) void reply.header('connection', 'close')
}

/**
 * Unmatched routes answer 404 `route_not_found` in onRequest, before the body is read or parsed:
 * without this, Fastify runs the not-found context's whole lifecycle, body parsing included, so any
 * path (or `PUT /v1/messages`) took a 1 MiB JSON body through the parser for a 404. Registered at
 * the root (fastify-plugin): the not-found context takes the root's hooks at ready time.
 *
 * Callback-style because it runs on every request; `request.is404` reads the already routed context.
 */
export const notFoundBeforeBody = fp(async function notFoundBeforeBody(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', (request, reply, done) => {
    if (!request.is404) return done()
    closeIfBodyUnread(request, reply)
    void sendProblem(request, reply, new Problem('route_not_found'))
  })
}, { name: 'mecharim-not-found-before-body' })
