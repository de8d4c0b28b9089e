import websocket from '@fastify/websocket'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { sendProblem } from '../errors/handler.js'
import { Problem } from '../errors/problem.js'
import type { Reason } from '../errors/catalogue.js'
import { FRAME_AUTH_PROTOCOL } from '../frame-auth.js'
import { gatewayContext, type RouteOptions } from './adapter.js'
import { required, type AuthorizationWatch, type GatewayContext } from './context.js'
import { authenticateByFrame } from './frame-handshake.js'
import { OpenSockets, type WebSocketLimits } from './open-sockets.js'
import { releaseAuthAttempt } from './steps/auth-failure-throttle.js'
import { lifecycleFrameType, parseLifecycleFrame, runLifecycleFrame } from './inbox-frames.js'
import { sleepBeforeNextRead } from './wait-for-messages.js'

export { OpenSockets, type WebSocketLimits } from './open-sockets.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The WebSockets open on this instance (GET /v1/connect): per-key counts, idle checks, shutdown. */
    openSockets: OpenSockets
  }
}

/**
 * Register the WebSocket support at the root, before any other plugin: its onRequest hook marks
 * upgrade requests so that a refused upgrade (401 from the gateway pipeline) has its socket destroyed
 * after the response. Registered in a child scope, the gateway's hooks would refuse first and the
 * socket would stay open, holding graceful shutdown for as long as the client likes.
 */
export async function registerWebSocketSupport(app: FastifyInstance, limits: WebSocketLimits): Promise<void> {
  const sockets = new OpenSockets(limits)
  app.decorate('openSockets', sockets)
  await app.register(websocket, {
    options: {
      maxPayload: MAX_CLIENT_FRAME_BYTES,
      // The one subprotocol the gateway speaks: first-frame authentication. Any other offer is
      // declined (ws would otherwise echo the first one offered, claiming a protocol it does not speak).
      handleProtocols: (protocols: Set<string>) => (protocols.has(FRAME_AUTH_PROTOCOL) ? FRAME_AUTH_PROTOCOL : false),
    },
    // Replaces the plugin's bare close() (the peer would see 1005): every open socket is told 1001.
    preClose: (done) => {
      sockets.closeAll()
      done()
    },
    errorHandler: (error, socket, request) => {
      if (isClientFault(error)) request.log.info({ code: (error as { code?: unknown }).code, detail: error.message }, 'websocket closed: the client broke the protocol or went away')
      else request.log.error({ err: error }, 'websocket failed')
      socket.terminate()
    },
  })
}

/**
 * What a client does to its own socket: a frame ws refuses (its `WS_ERR_*` codes: over the size
 * limit, unmasked, not UTF-8, a bad opcode or close code; ws has already closed with the protocol's
 * code), or a connection it dropped. Logged at info without a stack: anyone can send these, also
 * before authenticating, and an error log must stay for the gateway's own faults.
 */
function isClientFault(error: Error): boolean {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' && (code.startsWith('WS_ERR_') || code === 'ECONNRESET' || code === 'EPIPE')
}

/** Largest frame a client may send (acks are small). */
export const MAX_CLIENT_FRAME_BYTES = 64 * 1024
const PUSH_BATCH = 50
const POLICY_VIOLATION = 1008
const INTERNAL_ERROR = 1011
const REF_RE = /^[A-Za-z0-9._:-]{1,64}$/
const ID_RE = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * GET /v1/connect: a WebSocket authenticated by the same pipeline as every runtime route, on the
 * upgrade request (its route steps run before the upgrade completes, so a refusal is a problem+json
 * response), or, for a client that cannot send headers (a browser), on its first frame over a
 * challenge (frame-handshake.ts). Server frames: `challenge` (first-frame authentication only),
 * `ready`, `message`, `acked`, `error`, `closing`. Client frames: `authenticate` (first), then
 * `{"type":"ack","ids":[...],"ref"?}`. The connection's authorization is kept checked for its life.
 */
export async function connectRoute(app: FastifyInstance, options: RouteOptions): Promise<void> {
  const { adapter, deps } = options
  const open = (socket: WebSocket, request: FastifyRequest, ctx: GatewayContext): void => {
    const key = required(ctx.key, 'key')
    const maxAgeMs = app.openSockets.maxAgeMs
    const session = new PushSession(socket, request, ctx, deps)
    session.send({ type: 'ready', mecha: key.mecha, key_id: key.id, server_time: Math.floor(Date.now() / 1000), max_age_seconds: Math.floor(maxAgeMs / 1000) })
    const maxAge = setTimeout(() => session.end(new Problem('reauthenticate', `the connection reached its maximum age of ${maxAgeMs / 1000} s (MECHA_WS_MAX_AGE_SECONDS); reconnect with fresh credentials`)), maxAgeMs)
    maxAge.unref()
    socket.once('close', () => clearTimeout(maxAge))
    session.start().catch((err: unknown) => {
      request.log.warn({ err }, 'websocket push loop failed')
      socket.close(INTERNAL_ERROR, 'transport unavailable')
    })
  }
  app.route({
    method: 'GET',
    url: '/v1/connect',
    exposeHeadRoute: false,
    config: { runtimeRoute: 'connect' },
    // Not reached in practice: the route steps answer a plain GET with upgrade_required before it.
    handler: async (request, reply) => sendProblem(request, reply, new Problem('upgrade_required')),
    preHandler: adapter.routeSteps,
    wsHandler: (socket, request) => {
      const ctx = gatewayContext(request)
      if (!app.openSockets.track(socket)) {
        releaseAuthAttempt(ctx)
        return
      }
      if (ctx.frameHandshake !== true) {
        open(socket, request, ctx)
        return
      }
      const handshake = { deps, authenticate: adapter.authenticateFrame, timeoutMs: app.openSockets.authTimeoutMs }
      void authenticateByFrame(socket, request, ctx, handshake).then((authenticated) => {
        if (authenticated !== undefined) open(socket, request, authenticated)
      })
    },
  })
}

class PushSession {
  readonly #socket: WebSocket
  readonly #request: FastifyRequest
  readonly #deps: RouteOptions['deps']
  readonly #mecha: string
  readonly #keyId: string
  readonly #authorization: AuthorizationWatch
  #open = true
  #wake: (() => void) | undefined
  /** Set by every wake-up (arrival, authorization end, close); cleared before each read. */
  #woken = false

  constructor(socket: WebSocket, request: FastifyRequest, ctx: GatewayContext, deps: RouteOptions['deps']) {
    this.#socket = socket
    this.#request = request
    this.#deps = deps
    const key = required(ctx.key, 'key')
    this.#mecha = key.mecha
    this.#keyId = key.id
    this.#authorization = deps.watchAuthorization(ctx, (problem) => this.end(problem))
    socket.on('message', (data, isBinary) => { void this.#onFrame(isBinary ? undefined : data.toString()) })
    socket.on('close', () => {
      this.#open = false
      this.#authorization.close()
      this.#rouse()
    })
  }

  send(frame: object): void {
    if (this.#socket.readyState === this.#socket.OPEN) this.#socket.send(JSON.stringify(frame))
  }

  /** Close for an authorization reason: a typed frame with the catalogue reason, then 1008. */
  end(problem: Problem): void {
    if (!this.#open) return
    this.#open = false
    this.#request.log.info({ reason: problem.reason, key_id: this.#keyId }, 'websocket closed: authorization ended')
    this.send({ type: 'closing', reason: problem.reason, detail: problem.detail, request_id: this.#request.id })
    this.#socket.close(POLICY_VIOLATION, problem.reason)
    this.#rouse()
  }

  /**
   * Push whatever is visible; when nothing is, sleep until an arrival, the next redelivery falling
   * due, or the safety read (wait-for-messages.ts), never on a fixed re-poll.
   */
  async start(): Promise<void> {
    const unsubscribe = this.#deps.transport.onArrival(this.#mecha, () => this.#rouse())
    try {
      while (this.#open) {
        if ((await this.#authorization.check()) !== undefined) return
        this.#woken = false
        const read = await this.#deps.transport.read(this.#mecha, { limit: PUSH_BATCH, visibilityMs: this.#deps.visibilityMs, now: Date.now() })
        for (const message of read.messages) if (this.#open) this.send({ type: 'message', message })
        if (read.messages.length === PUSH_BATCH || this.#woken) continue
        const sleepMs = sleepBeforeNextRead(read, Date.now())
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => this.#wake?.(), sleepMs)
          this.#wake = () => {
            clearTimeout(timer)
            this.#wake = undefined
            resolve()
          }
        })
      }
    } finally {
      unsubscribe()
    }
  }

  #rouse(): void {
    this.#woken = true
    this.#wake?.()
  }

  async #onFrame(text: string | undefined): Promise<void> {
    if (await this.#onLifecycleFrame(text)) return
    const frame = parseAck(text)
    if ('reason' in frame) {
      this.#refuse(frame.reason, frame.detail, frame.ref)
      return
    }
    try {
      // Re-checked before anything is removed: a connection whose authorization ended acks nothing.
      if ((await this.#authorization.check()) !== undefined) return
      const acknowledged = await this.#deps.transport.ack(this.#mecha, frame.ids)
      this.send({ type: 'acked', ids: frame.ids, acknowledged, ...refField(frame.ref) })
    } catch {
      this.#refuse('transport_unavailable', 'the acknowledgement was not recorded; send it again', frame.ref)
    }
  }

  /** A nack, extend or reject frame (inbox-frames.ts): answered here; false for any other frame. */
  async #onLifecycleFrame(text: string | undefined): Promise<boolean> {
    let parsed: unknown
    try {
      parsed = text === undefined ? undefined : JSON.parse(text)
    } catch {
      return false
    }
    const type = lifecycleFrameType(parsed)
    if (type === undefined) return false
    const frame = parseLifecycleFrame(type, parsed as Record<string, unknown>)
    if (!('type' in frame)) {
      this.#refuse(frame.reason, frame.detail, frame.ref)
      return true
    }
    try {
      // Re-checked before anything moves, as for an ack.
      if ((await this.#authorization.check()) !== undefined) return true
      this.send({ ...(await runLifecycleFrame(this.#deps.transport, this.#mecha, frame, Date.now())), ...refField(frame.ref) })
      // A nack may make a message due before the push loop's next read: read again now.
      if (frame.type === 'nack') this.#rouse()
    } catch {
      this.#refuse('transport_unavailable', `the ${type} was not recorded; send it again`, frame.ref)
    }
    return true
  }

  #refuse(reason: Reason, detail: string, ref: string | undefined): void {
    this.send({ type: 'error', reason, detail, request_id: this.#request.id, ...refField(ref) })
  }
}

type AckFrame = { ids: string[]; ref: string | undefined } | { reason: Reason; detail: string; ref: string | undefined }

const ACK_SHAPE = 'expected {"type":"ack","ids":["<message id>", ...],"ref":"<optional reference>"} (1 to 100 ids)'

function parseAck(text: string | undefined): AckFrame {
  if (text === undefined) return { reason: 'invalid_request', detail: 'frames are JSON text; ' + ACK_SHAPE, ref: undefined }
  let frame: unknown
  try {
    frame = JSON.parse(text)
  } catch {
    return { reason: 'malformed_json', detail: 'the frame is not JSON; ' + ACK_SHAPE, ref: undefined }
  }
  if (typeof frame !== 'object' || frame === null) return { reason: 'invalid_request', detail: ACK_SHAPE, ref: undefined }
  const { type, ids, ref } = frame as { type?: unknown; ids?: unknown; ref?: unknown }
  if (ref !== undefined && (typeof ref !== 'string' || !REF_RE.test(ref))) return { reason: 'invalid_request', detail: '`ref` must be 1 to 64 characters of A-Z a-z 0-9 . _ : -', ref: undefined }
  const reference = ref as string | undefined
  if (type !== 'ack' || !Array.isArray(ids) || ids.length === 0 || ids.length > 100) return { reason: 'invalid_request', detail: ACK_SHAPE, ref: reference }
  if (!ids.every((id): id is string => typeof id === 'string' && ID_RE.test(id))) return { reason: 'invalid_id', detail: 'message ids are 1 to 128 characters of A-Z a-z 0-9 . _ : -', ref: reference }
  return { ids, ref: reference }
}

function refField(ref: string | undefined): { ref?: string } {
  return ref === undefined ? {} : { ref }
}
