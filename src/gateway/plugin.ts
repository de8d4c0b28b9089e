import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { sendProblem } from '../errors/handler.js'
import type { Problem } from '../errors/problem.js'
import type { Transport } from '../transport/types.js'
import type { GatewayContext } from './context.js'
import { CREDENTIAL_STEPS, HEADER_STEPS, claimNonceAndCount, runSteps, type GatewayDeps } from './pipeline.js'
import { runtimeRequest } from './request.js'
import { refuseCredentialAttempt, releaseAuthAttempt } from './steps/auth-failure-throttle.js'
import { gatewayRoutes } from './routes.js'
import '../route-access.js'

declare module 'fastify' {
  interface FastifyRequest {
    gateway?: GatewayContext
  }
  interface FastifyContextConfig {
    /** The route's hand-off claims the nonce itself, atomically with its write (POST /v1/messages). */
    claimsNonce?: boolean
  }
}

export interface GatewayOptions {
  deps: GatewayDeps
  transport: Transport
  /** An unacknowledged message is delivered again after this long. */
  visibilityMs: number
  idempotencyTtlSeconds: number
}

/**
 * The runtime gateway: the pipeline runs as hooks (header steps before the body is read, credential
 * steps once it is), then the routes hand off to the transport. Wiring only: the checks are steps.
 */
export async function gatewayPlugin(app: FastifyInstance, options: GatewayOptions): Promise<void> {
  const { deps } = options

  app.decorateRequest('gateway', undefined)

  // Callback-style hooks: in the steady state (key records cached) the steps are synchronous and a
  // request passes both hooks without a promise. A refusal replies and does not call `done`.
  app.addHook('onRequest', (request, reply, done) => {
    const ctx: GatewayContext = { request: runtimeRequest(request), now: Date.now() }
    request.gateway = ctx
    settle(runSteps(HEADER_STEPS, ctx, deps), done, (problem) => refuseCredential(request, reply, problem, deps))
  })

  app.addHook('preValidation', (request, reply, done) => {
    const ctx = gatewayContext(request)
    const claimsNonce = request.routeOptions.config.claimsNonce === true
    settle(runSteps(CREDENTIAL_STEPS, ctx, deps), () => {
      if (claimsNonce) {
        done()
        return
      }
      settle(claimNonceAndCount(ctx, deps), done, (problem) => refuse(request, reply, problem))
    }, (problem) => refuseCredential(request, reply, problem, deps))
  })

  // The backstop for an admitted attempt neither verified nor refused (a fault, a client gone).
  app.addHook('onResponse', (request, _reply, done) => {
    releaseAuthAttempt(request.gateway)
    done()
  })
  app.addHook('onRequestAbort', (request, done) => {
    releaseAuthAttempt(request.gateway)
    done()
  })

  await app.register(gatewayRoutes, options)
}

/**
 * Continue with `next` when the steps passed, or send their refusal. A fault (a store that cannot
 * answer) goes to `done` as an error, which the error handler turns into a 503.
 */
function settle(
  result: Problem | undefined | Promise<Problem | undefined>,
  next: (err?: Error) => void,
  refusal: (problem: Problem) => Promise<unknown> | unknown,
): void {
  const handle = (problem: Problem | undefined): void => {
    if (problem === undefined) {
      next()
      return
    }
    try {
      const sent = refusal(problem)
      if (sent instanceof Promise) sent.catch((err: unknown) => next(err as Error))
    } catch (err) {
      next(err as Error)
    }
  }
  if (result instanceof Promise) result.then(handle, (err: unknown) => next(err as Error))
  else handle(result)
}

export function gatewayContext(request: FastifyRequest): GatewayContext {
  if (request.gateway === undefined) throw new Error('runtime route reached without the gateway pipeline')
  return request.gateway
}

/**
 * A refusal of the credential itself (the header and credential steps): a 401 here is a failed
 * authentication and counts against the client address, before the response leaves, so the client's
 * next request already meets the count. The 401s sent once the credential verified (replayed_nonce,
 * sender_mismatch) are not guesses and do not count: a client retrying with a reused nonce must not
 * lock its address out.
 */
async function refuseCredential(request: FastifyRequest, reply: FastifyReply, problem: Problem, deps: GatewayDeps): Promise<FastifyReply> {
  return refuse(request, reply, await refuseCredentialAttempt(gatewayContext(request), deps, problem, request.log))
}

export function refuse(request: FastifyRequest, reply: FastifyReply, problem: Problem): FastifyReply {
  if (problem.internal !== undefined || problem.status === 401) {
    request.log.info({ reason: problem.reason, cause: problem.internal, key_id: request.gateway?.credentials?.keyId }, 'runtime request refused')
  }
  return sendProblem(request, reply, problem)
}
