import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { OperatorIdentity } from '../config/schema.js'
import { sendProblem } from '../errors/handler.js'
import { Problem } from '../errors/problem.js'
import { headerCount } from '../header-counts.js'
import { rateLimited } from '../ratelimit/refusal.js'
import { VerifierFault, type OperatorAuthenticator } from './operator-auth.js'
import { controlPlaneRoutes } from './routes.js'
import type { ControlPlane } from './service.js'
import '../route-access.js'

declare module 'fastify' {
  interface FastifyRequest {
    operator?: OperatorIdentity
  }
}

export interface ControlPlanePluginOptions {
  controlPlane: ControlPlane
  /** Verifies operator tokens; its `authFailures` guard, when set, throttles guessing per client address. */
  authenticator: OperatorAuthenticator
}

/**
 * The control plane: operator authentication and scope checks (onRequest, before any body is read),
 * an audit event for every refused request (onSend), and the routes. Wiring only: the rules
 * live in ControlPlane, OperatorAuthenticator and AuthFailureGuard.
 */
export async function controlPlanePlugin(app: FastifyInstance, options: ControlPlanePluginOptions): Promise<void> {
  const { controlPlane, authenticator } = options
  const { authFailures } = authenticator

  app.decorateRequest('operator', undefined)

  // A failed authentication (every 401 below) is counted against the client address before the
  // response leaves; an address over the limit is refused first, before any token comparison.
  const unauthenticated = async (request: FastifyRequest, reply: FastifyReply, problem: Problem): Promise<FastifyReply> => {
    await authFailures?.recordFailure(request.ip, Date.now(), request.log)
    return sendProblem(request, reply, problem)
  }

  app.addHook('onRequest', async (request, reply) => {
    const retryAfter = authFailures?.throttledFor(request.ip, Date.now())
    if (retryAfter !== undefined) {
      return sendProblem(request, reply, rateLimited(retryAfter, `too many failed authentications from this address; retry after ${retryAfter} s`))
    }
    const scope = request.routeOptions.config.scope
    const header = request.headers.authorization
    if (header === undefined || header === '') return unauthenticated(request, reply, new Problem('missing_credentials'))
    if (headerCount(request.raw.rawHeaders, 'authorization') > 1) {
      return unauthenticated(request, reply, new Problem('malformed_credentials', 'the authorization header is sent more than once'))
    }
    const match = /^Bearer +(\S+)$/i.exec(header)
    if (match === null) return unauthenticated(request, reply, new Problem('malformed_credentials', 'expected `Authorization: Bearer <operator token>`'))
    let identity: OperatorIdentity | null
    try {
      identity = await authenticator.authenticate(match[1] as string)
    } catch (err) {
      if (!(err instanceof VerifierFault)) throw err
      request.log.error({ err }, 'operator verifier failed')
      return sendProblem(request, reply, new Problem('verifier_unavailable'))
    }
    if (identity === null) return unauthenticated(request, reply, new Problem('invalid_operator_token'))
    request.operator = identity
    if (scope === undefined || !identity.scopes.includes(scope)) {
      return sendProblem(request, reply, new Problem('missing_scope', `this route requires the ${scope ?? 'unknown'} scope`))
    }
    return undefined
  })

  // Recorded before the refusal is sent, so a client that has seen the 4xx can find its audit event.
  // Not for a throttled address: its requests must cost no write (the throttle itself is logged).
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (reply.statusCode < 400 || reply.statusCode >= 500 || request.refusalReason === 'rate_limited') return payload
    try {
      await controlPlane.recordRefusal(request.operator?.operator ?? null, request.id, request.routeOptions.url ?? 'unknown', {
        method: request.method,
        status: reply.statusCode,
        reason: request.refusalReason ?? null,
        client: request.ip,
      })
    } catch (err) {
      request.log.warn({ err }, 'could not record refused operator request')
    }
    return payload
  })

  await app.register(controlPlaneRoutes, { controlPlane })
}
