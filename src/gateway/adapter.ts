import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { newEventId } from '../crypto/ids.js'
import { sendProblem, toProblem } from '../errors/handler.js'
import type { Problem } from '../errors/problem.js'
import { RUNTIME_ROUTES, type GatewayContext, type RuntimeRoute, type Step, type StepResult } from './context.js'
import { newContext, runSteps, stepsFor, type Phase, type PipelineDeps } from './pipeline.js'
import { settleRefusal } from './refusal.js'
import { runtimeRequest } from './request.js'
import { releaseAuthAttempt } from './steps/auth-failure-throttle.js'

declare module 'fastify' {
  interface FastifyRequest {
    gateway?: GatewayContext
    /** The route's steps by phase, looked up once per request (in onRequest). */
    gatewayPlan?: Readonly<Record<Exclude<Phase, 'connection'>, readonly Step<PipelineDeps>[]>>
  }
  interface FastifyContextConfig {
    /** Which runtime route this is: the pipeline table's steps for it run (pipeline.ts). */
    runtimeRoute?: RuntimeRoute
  }
}

/** What the runtime routes are registered with (routes.ts, websocket.ts). */
export interface RouteOptions {
  adapter: PipelineAdapter
  deps: PipelineDeps
}

type Plan = NonNullable<FastifyRequest['gatewayPlan']>

/**
 * The Fastify side of the pipeline, and nothing more: each hook runs the table's steps for its route
 * and phase, and every refusal leaves through `refuse`. No behaviour of its own.
 */
export class PipelineAdapter {
  readonly #deps: PipelineDeps
  readonly #plans: Readonly<Record<RuntimeRoute, Plan>>
  readonly #frameSteps: readonly Step<PipelineDeps>[]

  constructor(deps: PipelineDeps) {
    this.#deps = deps
    const options = { allowDevSender: deps.allowDevSender }
    this.#plans = Object.fromEntries(RUNTIME_ROUTES.map((route) => [route, {
      headers: stepsFor(route, 'headers', options), body: stepsFor(route, 'body', options), route: stepsFor(route, 'route', options),
    }])) as Record<RuntimeRoute, Plan>
    const connect = this.#plans.connect
    this.#frameSteps = [...connect.headers, ...connect.body, ...connect.route]
  }

  /** onRequest: the header steps, before the body is read. Callback-style: no promise in the steady state. */
  readonly onRequest = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const route = routeOf(request)
    const ctx = newContext(runtimeRequest(request), route, Date.now())
    request.gateway = ctx
    const plan = this.#plans[route]
    request.gatewayPlan = plan
    this.#settle(request, reply, runSteps(plan.headers, ctx, this.#deps), !this.#deps.allowDevSender ? done : (err) => {
      if (err === undefined && ctx.devSender !== undefined) this.#auditDevSender(request, ctx.devSender)
      done(err)
    })
  }

  /** Every request of a development sender is logged and audited (development only). */
  #auditDevSender(request: FastifyRequest, mecha: string): void {
    request.log.warn({ dev_sender: mecha, method: request.method, url: request.url }, 'request acting as a mecha through Mecha-Dev-Sender')
    this.#deps.audit({
      id: newEventId(), time: new Date().toISOString(), type: 'dev_sender', operator: null, target: { kind: 'mecha', id: mecha },
      request_id: request.id, details: { method: request.method, path: request.routeOptions.url, client: request.ip },
    }).catch((err: unknown) => request.log.error({ err }, 'dev_sender audit event not written'))
  }

  /** preValidation: the steps that need the raw body (signature), then the nonce. */
  readonly preValidation = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    this.#settle(request, reply, runSteps(this.#plan(request).body, gatewayContext(request), this.#deps), done)
  }

  /** The route's steps, ending with its hand-off; for a WebSocket, as a preHandler (before the upgrade). */
  readonly routeSteps = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    this.#settle(request, reply, runSteps(this.#plan(request).route, gatewayContext(request), this.#deps), done)
  }

  /** A runtime route's handler: the route's steps, then the response the hand-off set. */
  readonly handler = (request: FastifyRequest, reply: FastifyReply): void => {
    this.routeSteps(request, reply, (err) => {
      if (err !== undefined) {
        reply.send(err)
        return
      }
      const response = gatewayContext(request).response
      if (response === undefined) {
        reply.send(new Error('runtime route ended without a response'))
        return
      }
      if (response.headers !== undefined) void reply.headers(response.headers)
      void reply.code(response.status).send(response.body)
    })
  }

  /**
   * The gateway's error handler: what Fastify refused after the credential verified (a body over the
   * limit on a token-authenticated request) still records the nonce; faults do not (nothing was done).
   */
  readonly errorHandler = (error: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    const { problem, fault } = toProblem(error)
    if (fault) {
      request.log.error({ err: error, reason: problem.reason }, 'request failed')
      void sendProblem(request, reply, problem)
      return
    }
    this.#refuse(request, reply, problem)
  }

  /** onResponse and onRequestAbort: free an admitted attempt neither verified nor refused (a fault, a client gone). */
  readonly settleAttempt = (request: FastifyRequest, ...rest: unknown[]): void => {
    releaseAuthAttempt(request.gateway)
    ;(rest[rest.length - 1] as HookHandlerDoneFunction)()
  }

  /**
   * The authenticate frame of a first-frame-authenticated WebSocket: every step GET /v1/connect runs
   * before its upgrade (headers, body and route phases, in table order), on a context built from the frame.
   */
  readonly authenticateFrame = (ctx: GatewayContext): StepResult | Promise<StepResult> => runSteps(this.#frameSteps, ctx, this.#deps)

  /** Re-run the connection steps on a copy of an authenticated context (ConnectionAuthorization). */
  readonly recheck = (ctx: GatewayContext): StepResult | Promise<StepResult> => runSteps(this.#connectionSteps, ctx, this.#deps)
  readonly #connectionSteps = stepsFor('connect', 'connection')

  /** The plan onRequest looked up (`request.routeOptions` builds a new object on every read). */
  #plan(request: FastifyRequest): Plan {
    return request.gatewayPlan ?? this.#plans[routeOf(request)]
  }

  /** Continue with `done` when the steps passed; else refuse. A fault goes to `done` as an error (503). */
  #settle(request: FastifyRequest, reply: FastifyReply, result: StepResult | Promise<StepResult>, done: HookHandlerDoneFunction): void {
    const handle = (problem: StepResult): void => {
      if (problem === undefined) done()
      else this.#refuse(request, reply, problem, done)
    }
    if (result instanceof Promise) result.then(handle, (err: unknown) => done(err as Error))
    else handle(result)
  }

  /** Every refusal of a runtime request, once what it costs is settled (refusal.ts). */
  #refuse(request: FastifyRequest, reply: FastifyReply, problem: Problem, done?: HookHandlerDoneFunction): void {
    const ctx = request.gateway
    const fail = (err: unknown): void => {
      if (done !== undefined) done(err as Error)
      else void sendProblem(request, reply, toProblem(err).problem)
    }
    const pending = settleRefusal(ctx, this.#deps, problem, request.log)
    const send = (p: Problem): void => {
      if (p.internal !== undefined || p.status === 401) {
        request.log.info({ reason: p.reason, cause: p.internal, key_id: ctx?.credentials?.keyId }, 'runtime request refused')
      }
      void sendProblem(request, reply, p)
    }
    if (pending instanceof Promise) pending.then(send, fail)
    else send(pending)
  }
}

/** The runtime route a request reached, from its Fastify route (never from the path as sent). */
function routeOf(request: FastifyRequest): RuntimeRoute {
  const route = request.routeOptions.config.runtimeRoute
  if (route === undefined) throw new Error(`route ${request.routeOptions.url ?? '?'} has no runtimeRoute`)
  return route
}

export function gatewayContext(request: FastifyRequest): GatewayContext {
  if (request.gateway === undefined) throw new Error('runtime route reached without the gateway pipeline')
  return request.gateway
}

