import type { Socket } from 'node:net'
import websocket from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import type { WebSocket } from 'ws'
import type { Transport } from '../transport/types.js'
import { required } from './context.js'
import { gatewayContext, refuse, type GatewayOptions } from './plugin.js'
import { resolveKey } from './steps/resolve-key.js'
import { sendProblem } from '../errors/handler.js'
import { Problem } from '../errors/problem.js'
import type { Reason } from '../errors/catalogue.js'
import { REPOLL_MS } from './wait-for-messages.js'

export interface WebSocketLimits {
  /** A socket that sends nothing, not even a pong, for this long is terminated. */
  idleTimeoutMs: number
  /** Open sockets one key may hold on this instance; the next upgrade is refused with 429. */
  maxPerKey: number
  /** On shutdown, a peer that has not completed the closing handshake within this time is cut off. */
  shutdownGraceMs: number
  /** A socket is closed this long after its upgrade (`reauthenticate`), so that it authenticates again. */
  maxAgeMs: number
}

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
    options: { maxPayload: MAX_CLIENT_FRAME_BYTES },
    // Replaces the plugin's bare close() (the peer would see 1005): every open socket is told 1001.
    preClose: (done) => {
      sockets.closeAll()
      done()
    },
  })
}

/** Largest frame a client may send (acks are small). */
export const MAX_CLIENT_FRAME_BYTES = 64 * 1024
const PUSH_BATCH = 50

/**
 * GET /v1/connect: a WebSocket authenticated on the upgrade request by the same pipeline as every
 * runtime route (headers and/or signature; the nonce is claimed before the upgrade completes).
 * Server frames: `ready`, `message`, `acked`, `error`. Client frames: `{"type":"ack","ids":[...]}`.
 */
export async function connectRoute(app: FastifyInstance, options: GatewayOptions): Promise<void> {
  app.route({
    method: 'GET',
    url: '/v1/connect',
    exposeHeadRoute: false,
    // A plain HTTP GET (no upgrade) reaches this handler, after authentication.
    handler: async (request, reply) => sendProblem(request, reply, new Problem('upgrade_required')),
    // After authentication and before the upgrade completes, so a refusal is a problem+json response.
    preHandler: async (request, reply) => {
      if (!request.ws) return undefined
      const key = required(gatewayContext(request).key, 'key')
      if (app.openSockets.reserve(key.id, request.raw.socket)) return undefined
      return refuse(request, reply, new Problem('rate_limited',
        `this key already holds ${app.openSockets.maxPerKey} open WebSockets on this instance (MECHA_WS_MAX_PER_KEY); close one before opening another`))
    },
    wsHandler: (socket, request) => {
      const ctx = gatewayContext(request)
      const key = required(ctx.key, 'key')
      if (!app.openSockets.track(socket)) return
      const session = new PushSession(socket, options.transport, key.mecha, options.visibilityMs)
      send(socket, { type: 'ready', mecha: key.mecha, key_id: key.id, server_time: Math.floor(Date.now() / 1000) })
      // The key was checked on the upgrade; keep checking it, so a revocation or a deactivation closes
      // open sockets too (from the record cache: no I/O in steady state).
      const revalidate = setInterval(() => {
        Promise.resolve().then(() => resolveKey({ request: ctx.request, now: Date.now(), credentials: ctx.credentials }, options.deps)).then((problem) => {
          if (problem !== undefined) socket.close(POLICY_VIOLATION, problem.reason)
        }, () => socket.close(INTERNAL_ERROR, 'store unavailable'))
      }, REVALIDATE_MS)
      // The credentials were checked once, on the upgrade: past the maximum age the client must present fresh ones.
      const maxAge = setTimeout(() => closeForPolicy(socket, 'reauthenticate',
        `the connection reached its maximum age of ${app.openSockets.maxAgeMs / 1000} s (MECHA_WS_MAX_AGE_SECONDS); reconnect with fresh credentials`), app.openSockets.maxAgeMs)
      socket.on('close', () => {
        clearInterval(revalidate)
        clearTimeout(maxAge)
      })
      session.start().catch((err: unknown) => {
        request.log.warn({ err }, 'websocket push loop failed')
        socket.close(INTERNAL_ERROR, 'transport unavailable')
      })
    },
  })
}

/** How often an open socket re-checks its key (revoked, expired, mecha deactivated). */
export const REVALIDATE_MS = 250
const GOING_AWAY = 1001
const POLICY_VIOLATION = 1008
const INTERNAL_ERROR = 1011
/** Pings per idle timeout: a live peer answers several before it could be judged idle. */
const PINGS_PER_IDLE_TIMEOUT = 4

/**
 * The sockets open on one instance. Counts are per key id and per TCP connection: a slot is taken
 * before the upgrade and given back when the connection closes, whether the upgrade completed or not.
 */
export class OpenSockets {
  readonly #limits: WebSocketLimits
  readonly #perKey = new Map<string, number>()
  readonly #sockets = new Set<WebSocket>()
  #closing = false

  constructor(limits: WebSocketLimits) {
    for (const [name, value] of Object.entries(limits)) {
      const min = name === 'shutdownGraceMs' ? 0 : 1
      if (!Number.isSafeInteger(value) || value < min) throw new TypeError(`WebSocketLimits.${name}: expected an integer >= ${min}, got ${String(value)}`)
    }
    this.#limits = { ...limits }
  }

  get maxPerKey(): number {
    return this.#limits.maxPerKey
  }

  get maxAgeMs(): number {
    return this.#limits.maxAgeMs
  }

  /** Open sockets (or upgrades in progress) of one key. */
  countFor(keyId: string): number {
    return this.#perKey.get(keyId) ?? 0
  }

  /** Take one of `keyId`'s slots until `connection` closes; false when the key holds them all. */
  reserve(keyId: string, connection: Socket): boolean {
    const open = this.countFor(keyId)
    if (open >= this.#limits.maxPerKey) return false
    // Already gone: the upgrade will fail, and no 'close' event would give the slot back.
    if (connection.destroyed) return true
    this.#perKey.set(keyId, open + 1)
    connection.once('close', () => {
      const left = this.countFor(keyId) - 1
      if (left > 0) this.#perKey.set(keyId, left)
      else this.#perKey.delete(keyId)
    })
    return true
  }

  /** Watch an upgraded socket until it closes; false (and closed with 1001) when shutdown has begun. */
  track(socket: WebSocket): boolean {
    if (this.#closing) {
      socket.close(GOING_AWAY, 'server shutting down')
      return false
    }
    this.#sockets.add(socket)
    socket.once('close', () => this.#sockets.delete(socket))
    watchIdle(socket, this.#limits.idleTimeoutMs)
    return true
  }

  /** Shutdown: close every socket with 1001, and cut off, when the grace ends, peers that never answered. */
  closeAll(): void {
    this.#closing = true
    for (const socket of this.#sockets) socket.close(GOING_AWAY, 'server shutting down')
    if (this.#sockets.size === 0) return
    setTimeout(() => {
      for (const socket of this.#sockets) socket.terminate()
    }, this.#limits.shutdownGraceMs).unref()
  }
}

/**
 * Ping every quarter of the idle timeout; a peer heard from in none of that time (no frame, no pong)
 * is terminated, at most a quarter of the timeout late. Browsers and `ws` answer pings by themselves.
 */
function watchIdle(socket: WebSocket, idleMs: number): void {
  let heardAt = Date.now()
  const heard = (): void => { heardAt = Date.now() }
  socket.on('message', heard)
  socket.on('pong', heard)
  socket.on('ping', heard)
  const timer = setInterval(() => {
    if (Date.now() - heardAt >= idleMs) socket.terminate()
    else if (socket.readyState === socket.OPEN) socket.ping()
  }, Math.max(1, Math.floor(idleMs / PINGS_PER_IDLE_TIMEOUT)))
  socket.once('close', () => clearInterval(timer))
}

class PushSession {
  readonly #socket: WebSocket
  readonly #transport: Transport
  readonly #mecha: string
  readonly #visibilityMs: number
  #open = true
  #wake: (() => void) | undefined

  constructor(socket: WebSocket, transport: Transport, mecha: string, visibilityMs: number) {
    this.#socket = socket
    this.#transport = transport
    this.#mecha = mecha
    this.#visibilityMs = visibilityMs
    socket.on('message', (data, isBinary) => { void this.#onFrame(isBinary ? undefined : data.toString()) })
    socket.on('close', () => {
      this.#open = false
      this.#wake?.()
    })
  }

  /** Push whatever is visible; when nothing is, sleep until an arrival or the re-poll interval. */
  async start(): Promise<void> {
    const unsubscribe = this.#transport.onArrival(this.#mecha, () => this.#wake?.())
    try {
      while (this.#open) {
        const messages = await this.#transport.read(this.#mecha, { limit: PUSH_BATCH, visibilityMs: this.#visibilityMs, now: Date.now() })
        for (const message of messages) if (this.#open) send(this.#socket, { type: 'message', message })
        if (messages.length === PUSH_BATCH) continue
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => this.#wake?.(), REPOLL_MS)
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

  async #onFrame(text: string | undefined): Promise<void> {
    const ids = parseAck(text)
    if (ids === undefined) {
      send(this.#socket, { type: 'error', reason: 'invalid_request', detail: 'expected {"type":"ack","ids":["<message id>", ...]} (1 to 100 ids)' })
      return
    }
    try {
      const acknowledged = await this.#transport.ack(this.#mecha, ids)
      send(this.#socket, { type: 'acked', ids, acknowledged })
    } catch {
      send(this.#socket, { type: 'error', reason: 'transport_unavailable', detail: 'the acknowledgement was not recorded; send it again' })
    }
  }
}

function parseAck(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined
  let frame: unknown
  try {
    frame = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof frame !== 'object' || frame === null) return undefined
  const { type, ids } = frame as { type?: unknown; ids?: unknown }
  if (type !== 'ack' || !Array.isArray(ids) || ids.length === 0 || ids.length > 100) return undefined
  if (!ids.every((id): id is string => typeof id === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(id))) return undefined
  return ids
}

/** A typed `closing` frame says why (a catalogue reason), then the close: 1008 with the reason as close reason. */
function closeForPolicy(socket: WebSocket, reason: Reason, detail: string): void {
  send(socket, { type: 'closing', reason, detail })
  socket.close(POLICY_VIOLATION, reason)
}

function send(socket: WebSocket, frame: object): void {
  if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(frame))
}
