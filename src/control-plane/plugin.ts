import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { OperatorIdentity } from '../config/schema.js'
import { sendProblem } from '../errors/handler.js'
import { Problem } from '../errors/problem.js'
import { headerCount } from '../header-counts.js'
import type { OperatorAuthenticator } from './operator-auth.js'
import { deadLetterRoutes } from './dead-letter-routes.js'
import { controlPlaneRoutes } from './routes.js'
import type { ControlPlane } from './service.js'
import type { Transport } from '../transport/types.js'
import '../route-access.js'

declare module 'fastify' {
  interface FastifyRequest {
    operator?: OperatorIdentity
  }
}

export interface ControlPlanePluginOptions {
  controlPlane: ControlPlane
  /** Verifies operator tokens, throttling guessing per client address when given a guard. */
  authenticator: OperatorAuthenticator
  /** The transport, for a mecha's dead letters (GET /v1/mechas/{id}/dead-letters, redrive); without it those routes are absent. */
  transport?: Transport
}

/**
 * The control plane: operator authentication and scope checks (onRequest, before any body is read),
 * an audit event for every refused request (onSend), and the routes. Wiring only: the rules
 * live in ControlPlane, OperatorAuthenticator and AuthFailureGuard.
 */
export async function controlPlanePlugin(app: FastifyInstance, options: ControlPlanePluginOptions): Promise<void> {
  const { controlPlane, authenticator } = options

  app.decorateRequest('operator', undefined)

  // Before any body is read. An address over its failed-authentication limit is refused before any
  // token comparison; every 401 here counts against it (OperatorAuthenticator.authenticateRequest).
  app.addHook('onRequest', async (request, reply) => {
    const scope = request.routeOptions.config.scope
    const presented = { header: request.headers.authorization, count: headerCount(request.raw.rawHeaders, 'authorization') }
    const identity = await authenticator.authenticateRequest(presented, request.ip, request.log)
    if (identity instanceof Problem) return sendProblem(request, reply, identity)
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
  if (options.transport !== undefined) await app.register(deadLetterRoutes, { controlPlane, transport: options.transport })
}
