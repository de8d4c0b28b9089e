import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'

export interface WebSocketLimits {
  /** A socket that sends nothing, not even a pong, for this long is terminated. */
  idleTimeoutMs: number
  /** Open sockets one key may hold on this instance; the next upgrade is refused with 429. */
  maxPerKey: number
  /** On shutdown, a peer that has not completed the closing handshake within this time is cut off. */
  shutdownGraceMs: number
  /** A socket is closed this long after it authenticated (`reauthenticate`), so that it authenticates again. */
  maxAgeMs: number
  /** A socket authenticating in its first frame must send that frame within this time of the challenge. */
  authTimeoutMs: number
}

export const GOING_AWAY = 1001
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

  get authTimeoutMs(): number {
    return this.#limits.authTimeoutMs
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
