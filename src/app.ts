import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Config } from './config/schema.js'
import { controlPlanePlugin } from './control-plane/plugin.js'
import type { OperatorAuthenticator } from './control-plane/operator-auth.js'
import type { ControlPlane } from './control-plane/service.js'
import { newRequestId } from './crypto/ids.js'
import { clientErrorHandler, problemHandler, refuseConnect, sendProblem, toProblem } from './errors/handler.js'
import { metricsPlugin } from './observability/metrics.js'
import { RequestLogController, requestLogLevel } from './observability/request-log.js'
import { gatewayPlugin, type GatewayOptions } from './gateway/plugin.js'
import { registerWebSocketSupport } from './gateway/websocket.js'
import { discoveryPlugin } from './discovery/plugin.js'
import { openRateLimit } from './http/open-rate-limit.js'
import { notFoundBeforeBody } from './http/unread-body.js'
import type { RateLimiter } from './ratelimit/types.js'
import type { Probe } from './discovery/health.js'
import type { ReloadStatus } from './reload/reload-status.js'
import type { Durability } from './stores/durability.js'
import type { ControlStore } from './stores/types.js'
import { roleServes, surfaceOf, type Access } from './surfaces.js'
import { validatorCompiler } from './validation.js'
import { parseJsonBody } from './http/json-body.js'
import './route-access.js'

export interface ClassifiedRoute {
  method: string
  url: string
  access: Access
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Aborted when shutdown begins: long waits (the long-poll) end and answer with what they have. */
    shutdownSignal: AbortSignal
    /** Every route registered, with the access class src/surfaces.ts gave it (the boundary test walks these). */
    classifiedRoutes: readonly ClassifiedRoute[]
  }
  interface FastifyRequest {
    /** The exact body bytes received (the gateway digests these, never re-serialised JSON). */
    rawBody?: Buffer
  }
}

export interface AppDependencies {
  store: ControlStore
  controlPlane: ControlPlane
  authenticator: OperatorAuthenticator
  gateway: GatewayOptions
  /** Readiness checks (stores, replay cache, transport). */
  probes: readonly Probe[]
  /** What a 202 promises on the stores (stores.durability): reported in the well-known document and /readyz. */
  durability: Durability
  /** The stores' rate limiter: the open surfaces' per-address budget is counted in it. */
  rateLimiter: RateLimiter
  /** Files re-read while running (operator tokens, TLS certificate): reported by /readyz and /metrics. */
  reloads?: readonly ReloadStatus[]
}

export interface AppOptions {
  /**
   * Where the logger writes its JSON lines (already redacted): the pretty printer at a terminal
   * (src/observability/log-output.ts), a capture in tests; default stdout.
   */
  logStream?: { write(line: string): void }
  /** Serve HTTPS (and WSS) with this PEM certificate chain and key; replaced later with setSecureContext. */
  tls?: { cert: Buffer; key: Buffer }
}

/** Paths pino must never print. Credentials live in headers and in issuance responses. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.signature',
  'req.headers["signature-input"]',
  'headers.authorization',
  'token',
  'signing_secret',
  '*.token',
  '*.signing_secret',
]

/** How often Node checks open connections against the request timeout (its default, 30 s, would let a slow sender overstay by up to that). */
const REQUEST_TIMEOUT_CHECK_MS = 1000

/** Build the service. Never listens: main.ts (or a test) does. */
export async function buildApp(config: Config, deps: AppDependencies, options: AppOptions = {}): Promise<FastifyInstance> {
  const logger: FastifyServerOptions['logger'] = {
    level: config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    ...(options.logStream !== undefined ? { stream: options.logStream } : {}),
  }
  const requestTimeoutMs = config.requestTimeoutSeconds * 1000
  const httpOptions = {
    maxHeaderSize: config.headerLimitBytes,
    requestTimeout: requestTimeoutMs,
    headersTimeout: requestTimeoutMs,
    connectionsCheckingInterval: REQUEST_TIMEOUT_CHECK_MS,
  }
  // With `https`, Fastify ignores its `http` option: https.createServer takes the HTTP server options
  // in the same object as the TLS ones, so the header limit and timeouts go there too.
  const server = options.tls !== undefined ? { https: { ...httpOptions, cert: options.tls.cert, key: options.tls.key } } : { http: httpOptions }
  const app = Fastify({
    logger,
    logController: new RequestLogController(requestLogLevel(config.environment)),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    genReqId: newRequestId,
    // How long a client may take to send its request, headers and body; then 408 and the connection is
    // closed, so slow senders cannot hold connections. Node does not apply it to the handler's time
    // (the long-poll holds a request for up to 30 s after it was received). The headers timeout is set
    // to the same value: Node (20) enforces neither before the headers timeout (default 60 s) is up.
    requestTimeout: requestTimeoutMs,
    ...server,
    // What Node's parser refuses before a request exists (headers over maxHeaderSize, the request
    // timeout, malformed HTTP) is answered from the catalogue too, instead of Fastify's plain JSON.
    clientErrorHandler: clientErrorHandler(config, newRequestId),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
    // Errors raised before routing (a malformed percent-encoding, an over-long path parameter) bypass
    // the error handler: render them from the same catalogue.
    frameworkErrors: (error, request, reply) => {
      void sendProblem(request, reply, toProblem(error, request).problem)
    },
  })

  // CONNECT (a proxy tunnel) never reaches Fastify's router: answered here, from the catalogue.
  app.server.on('connect', refuseConnect(newRequestId))
  app.setValidatorCompiler(validatorCompiler())
  // Every route takes its access class (and operator scope) from the one declared list; a route the
  // list does not classify stops the process at start-up.
  const classified: ClassifiedRoute[] = []
  app.decorate('classifiedRoutes', classified)
  app.addHook('onRoute', (route) => {
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      const surface = surfaceOf(method, route.url)
      if (surface === undefined) throw new Error(`route ${method} ${route.url} is not classified in src/surfaces.ts`)
      route.config = { ...route.config, access: surface.access, ...(surface.scope !== undefined ? { scope: surface.scope } : {}) }
      classified.push({ method, url: route.url, access: surface.access })
    }
  })
  app.decorateRequest('rawBody', undefined)
  // JSON is the only body type. Keep the raw bytes; an empty body is "no body" rather than an error, so POSTs without payload
  // (revoke, rotate) work whatever Content-Type a client sends.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    const raw = body as Buffer
    request.rawBody = raw
    const parsed = parseJsonBody(raw)
    if (parsed.ok) done(null, parsed.value)
    else done(parsed.problem, undefined)
  })

  // A POST without a body is validated as an empty object, so optional bodies (rotate, issue) may be
  // omitted and required fields are reported by name rather than as "body must be object".
  // Hooks on every request are callback-style: an async hook costs a promise and microtasks per request.
  app.addHook('preValidation', (request, _reply, done) => {
    if (request.body === undefined && (request.method === 'POST' || request.method === 'PATCH')) request.body = {}
    done()
  })

  app.addHook('onSend', (request, reply, _payload, done) => {
    void reply.header('x-request-id', request.id)
    if (app.shutdownSignal.aborted) void reply.header('connection', 'close')
    done()
  })

  drainOnClose(app, config.shutdownGraceSeconds * 1000)
  await registerWebSocketSupport(app, {
    idleTimeoutMs: config.wsIdleTimeoutSeconds * 1000, maxPerKey: config.wsMaxPerKey, shutdownGraceMs: config.shutdownGraceSeconds * 1000,
    maxAgeMs: config.wsMaxAgeSeconds * 1000, authTimeoutMs: config.wsAuthTimeoutSeconds * 1000,
  })
  await app.register(problemHandler)
  await app.register(notFoundBeforeBody)
  // Before any route is registered: its onRoute hook gives each open route its counter.
  await app.register(openRateLimit, { limiter: deps.rateLimiter, budget: config.openRateLimit })
  await app.register(metricsPlugin, { config, reloads: deps.reloads ?? [], ...(deps.gateway.deadLetters === undefined ? {} : { deadLetters: deps.gateway.deadLetters }) })
  // The role decides which surfaces exist at all (src/surfaces.ts ROLE_ACCESS): a route of another role is a 404.
  if (roleServes(config.role, 'operator')) await app.register(controlPlanePlugin, { controlPlane: deps.controlPlane, authenticator: deps.authenticator, transport: deps.gateway.transport })
  if (roleServes(config.role, 'runtime')) await app.register(gatewayPlugin, deps.gateway)
  await app.register(discoveryPlugin, { config, store: deps.store, probes: deps.probes, reloads: deps.reloads ?? [], durability: deps.durability })

  return app
}

/**
 * Graceful shutdown, run by app.close() (SIGTERM): Fastify stops accepting connections and answers new
 * requests on kept-alive ones with 503. Here, in-flight requests may finish within `graceMs`, each
 * response closes its connection (it would otherwise idle until the keep-alive timeout), waits such as
 * the long-poll end at once through `app.shutdownSignal` (answered with what they have), and whatever
 * is still open when the grace ends is cut off, so that the stores close and the process exits.
 */
function drainOnClose(app: FastifyInstance, graceMs: number): void {
  let graceTimer: NodeJS.Timeout | undefined
  const shutdown = new AbortController()
  app.decorate('shutdownSignal', shutdown.signal)

  // Once closing, each response closes its connection (buildApp's onSend hook reads the signal).
  app.addHook('preClose', async () => {
    shutdown.abort()
    graceTimer = setTimeout(() => {
      app.log.warn({ grace_ms: graceMs }, 'shutdown grace over: closing the connections still open')
      app.server.closeAllConnections()
    }, graceMs)
    graceTimer.unref()
  })
  app.addHook('onClose', async () => clearTimeout(graceTimer))
}
