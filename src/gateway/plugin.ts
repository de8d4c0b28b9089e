import type { FastifyInstance } from 'fastify'
import { unsupportedMediaType } from '../errors/unsupported-media-type.js'
import { parseJsonBody } from '../http/json-body.js'
import type { ModeRegistry } from '../control-plane/modes.js'
import type { SessionService } from '../sessions/service.js'
import type { DeadLetterEvents } from '../lifecycle/dead-letter-events.js'
import type { Transport } from '../transport/types.js'
import { PipelineAdapter } from './adapter.js'
import { ConnectionAuthorization } from './connection-authorization.js'
import type { GatewayDeps, PipelineDeps } from './pipeline.js'
import { gatewayRoutes } from './routes.js'
import '../route-access.js'

export interface GatewayOptions {
  deps: GatewayDeps
  transport: Transport
  /** An unacknowledged message is delivered again after this long. */
  visibilityMs: number
  idempotencyTtlSeconds: number
  /** The mode registry a key with permissions.sessions.can_manage_modes writes to. */
  modes: ModeRegistry
  /** Sessions: their rules, store and notifications. */
  sessions: SessionService
  /** What the transport dead-letters, for the metrics (mecharim_dead_lettered_total). */
  deadLetters?: DeadLetterEvents
}

/**
 * The runtime gateway: the pipeline table (pipeline.ts) run as Fastify hooks by the adapter, and the
 * routes. Wiring only: the checks are steps, their order is the table's.
 */
export async function gatewayPlugin(app: FastifyInstance, options: GatewayOptions): Promise<void> {
  const deps: PipelineDeps = {
    ...options.deps,
    transport: options.transport,
    visibilityMs: options.visibilityMs,
    idempotencyTtlSeconds: options.idempotencyTtlSeconds,
    sockets: app.openSockets,
    modes: options.modes,
    sessions: options.sessions,
    watchAuthorization: (ctx, onEnd) => new ConnectionAuthorization(ctx, { records: options.deps.records, recheck: adapter.recheck }, onEnd),
  }
  const adapter = new PipelineAdapter(deps)

  app.decorateRequest('gateway', undefined)
  app.decorateRequest('gatewayPlan', undefined)
  app.addHook('onRequest', adapter.onRequest)
  app.addHook('preValidation', adapter.preValidation)
  app.setErrorHandler(adapter.errorHandler)
  // The backstop for an admitted attempt neither verified nor refused (a fault, a client gone).
  app.addHook('onResponse', adapter.settleAttempt)
  app.addHook('onRequestAbort', adapter.settleAttempt)

  // A body that does not parse is not refused here: the pipeline answers it once the credential has
  // been checked (the signature needs the raw bytes first), so the nonce rule holds for it too.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer
    request.rawBody = raw
    const parsed = parseJsonBody(raw)
    if (!parsed.ok) request.bodyProblem = parsed.problem
    done(null, parsed.ok ? parsed.value : undefined)
  })
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer
    request.rawBody = raw
    if (raw.length > 0) request.bodyProblem = unsupportedMediaType(request.headers['content-type'])
    done(null, undefined)
  })

  await app.register(gatewayRoutes, { adapter, deps })
}
