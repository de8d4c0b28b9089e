import { MechaError, errorFromResponse, staleServerTime } from './errors.js'
import { checkMessageIds } from './ids.js'
import type { ConnectionReady, Message, WebSocketConstructor, WebSocketEventLike, WebSocketLike } from './types.js'

/** A message pushed over the WebSocket; `ack()` acknowledges it over the same socket. */
export interface DeliveredMessage extends Message {
  /** Acknowledge this message. Resolves with 1, or 0 when it was no longer pending. Not enumerable. */
  ack(): Promise<number>
}

/** What a connection needs from its client (kept out of the public API). */
export interface ConnectSession {
  /** ws(s)://host/v1/connect */
  url: string
  /** Fresh credential headers for the upgrade request (new nonce, current time). */
  headers(): Record<string, string>
  webSocket(): Promise<WebSocketConstructor>
  timeoutMs: number
  learnServerTime(serverTime: number): void
}

type ServerFrame =
  | { type: 'ready'; mecha: string; key_id: string; server_time: number }
  | { type: 'message'; message: Message }
  | { type: 'acked'; ids: string[]; acknowledged: number }
  | { type: 'error'; reason: string; detail: string }

interface PendingAck {
  ids: readonly string[]
  resolve(acknowledged: number): void
  reject(error: unknown): void
  timer: ReturnType<typeof setTimeout>
}

/** A Node `http.IncomingMessage`, as the `ws` package hands it to `unexpected-response`. */
interface RefusalResponse {
  statusCode?: number
  headers: Record<string, string | string[] | undefined>
  on(event: string, listener: (chunk?: unknown) => void): unknown
}

const OPEN = 1
const MAX_REFUSAL_BYTES = 64 * 1024

/**
 * One GET /v1/connect session, iterated for the messages the gateway pushes. It opens at once;
 * `ready` settles when the gateway has authenticated it. A `stale_timestamp` refusal of the upgrade
 * (readable with the `ws` package) corrects the clock and is retried once, like an HTTP call.
 */
export class MechaConnection implements AsyncIterable<DeliveredMessage> {
  /** The gateway's `ready` frame: the connection is authenticated and messages will follow. */
  readonly ready: Promise<ConnectionReady>
  readonly #signal: AbortSignal | undefined
  readonly #timeoutMs: number
  readonly #queue: DeliveredMessage[] = []
  readonly #pendingAcks: PendingAck[] = []
  #waiters: (() => void)[] = []
  #socket: WebSocketLike | undefined
  #open = false
  #closing = false
  #ended = false
  #failure: unknown
  readonly #onAbort = (): void => this.close()

  constructor(session: ConnectSession, signal?: AbortSignal) {
    this.#signal = signal
    this.#timeoutMs = session.timeoutMs
    signal?.addEventListener('abort', this.#onAbort, { once: true })
    this.ready = this.#connect(session)
    // Failures reach the caller through the iterator; `ready` is for those who want to await it.
    this.ready.catch(() => undefined)
  }

  /** Acknowledge delivered messages over the socket (1 to 100 ids). Resolves with how many were pending. */
  async ack(ids: readonly string[]): Promise<number> {
    checkMessageIds(ids)
    const socket = this.#socket
    if (!this.#open || socket === undefined || socket.readyState !== OPEN) throw closedError('the connection is not open')
    return new Promise<number>((resolve, reject) => {
      const pending: PendingAck = {
        ids: [...ids], resolve, reject,
        timer: setTimeout(() => {
          this.#removeAck(pending)
          reject(new MechaError({ status: 0, code: 'UNAVAILABLE', reason: 'network_error', detail: `no acknowledgement from the gateway within ${this.#timeoutMs} ms` }))
        }, this.#timeoutMs),
      }
      this.#pendingAcks.push(pending)
      socket.send(JSON.stringify({ type: 'ack', ids }))
    })
  }

  /**
   * Close the connection; iteration ends. Messages received but not yet iterated are dropped: being
   * unacknowledged, the gateway delivers them again after its visibility timeout.
   */
  close(): void {
    if (this.#closing) return
    this.#closing = true
    const socket = this.#socket
    if (socket !== undefined) closeQuietly(socket)
    this.#end(undefined)
  }

  [Symbol.asyncIterator](): AsyncIterator<DeliveredMessage> {
    return {
      next: () => this.#next(),
      return: async () => {
        this.close()
        return { value: undefined, done: true }
      },
    }
  }

  async #next(): Promise<IteratorResult<DeliveredMessage>> {
    for (;;) {
      const message = this.#queue.shift()
      if (message !== undefined) return { value: message, done: false }
      if (this.#ended) {
        if (this.#failure !== undefined) throw this.#failure
        return { value: undefined, done: true }
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
  }

  async #connect(session: ConnectSession): Promise<ConnectionReady> {
    try {
      for (let attempt = 0; ; attempt++) {
        this.#signal?.throwIfAborted()
        const WebSocket = await session.webSocket()
        if (this.#closing) throw closedError('closed before the gateway was ready')
        try {
          return await this.#handshake(WebSocket, session)
        } catch (err) {
          const serverTime = attempt === 0 && !this.#closing ? staleServerTime(err) : undefined
          if (serverTime === undefined) throw err
          session.learnServerTime(serverTime)
        }
      }
    } catch (err) {
      const aborted = this.#signal?.aborted === true
      this.#end(aborted || this.#closing ? undefined : err)
      throw aborted ? this.#signal?.reason : err
    }
  }

  #handshake(WebSocket: WebSocketConstructor, session: ConnectSession): Promise<ConnectionReady> {
    return new Promise<ConnectionReady>((resolve, reject) => {
      let phase: 'handshake' | 'open' | 'done' = 'handshake'
      let refusal: Promise<MechaError> | undefined
      const socket = new WebSocket(session.url, { headers: session.headers() })
      this.#socket = socket
      const fail = (error: unknown): void => {
        if (phase !== 'handshake') return
        phase = 'done'
        clearTimeout(timer)
        closeQuietly(socket)
        reject(error)
      }
      // The refusal body says why (and, for a stale timestamp, the server time): prefer it to a bare error.
      const failWith = (fallback: MechaError): void => {
        if (refusal === undefined) fail(fallback)
        else void refusal.then(fail)
      }
      const timer = setTimeout(() => {
        failWith(new MechaError({ status: 0, code: 'UNAVAILABLE', reason: 'network_error', detail: `no ready frame from ${session.url} within ${session.timeoutMs} ms` }))
      }, session.timeoutMs)

      onRefusal(socket, (response) => {
        refusal = readRefusal(response)
        void refusal.then(fail)
      })
      socket.addEventListener('message', (event) => {
        const frame = parseFrame(event.data)
        if (phase === 'handshake') {
          if (frame?.type !== 'ready') {
            failWith(new MechaError({ status: 0, code: 'UNAVAILABLE', reason: 'invalid_response', detail: 'the gateway did not open with a ready frame' }))
            return
          }
          phase = 'open'
          clearTimeout(timer)
          this.#open = true
          resolve({ mecha: frame.mecha, key_id: frame.key_id, server_time: frame.server_time })
        } else if (phase === 'open' && frame !== undefined) {
          this.#onFrame(frame)
        }
      })
      socket.addEventListener('error', (event) => {
        failWith(new MechaError({ status: 0, code: 'UNAVAILABLE', reason: 'network_error', detail: `cannot open a WebSocket to ${session.url}${describeEvent(event)}` }))
      })
      socket.addEventListener('close', (event) => {
        if (phase === 'handshake') {
          failWith(new MechaError({ status: 0, code: 'UNAVAILABLE', reason: 'network_error', detail: `the WebSocket to ${session.url} closed during the handshake${describeClose(event)}` }))
        } else if (phase === 'open') {
          phase = 'done'
          this.#open = false
          this.#end(this.#closing ? undefined : closedError(`the gateway closed the connection${describeClose(event)}`))
        }
      })
    })
  }

  #onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case 'message': {
        const { id } = frame.message
        const delivered = Object.defineProperty({ ...frame.message }, 'ack', { value: () => this.ack([id]), enumerable: false }) as DeliveredMessage
        this.#queue.push(delivered)
        this.#wake()
        return
      }
      case 'acked': {
        const pending = this.#pendingAcks.find((p) => sameIds(p.ids, frame.ids))
        if (pending === undefined) return
        this.#removeAck(pending)
        pending.resolve(frame.acknowledged)
        return
      }
      case 'error': {
        // The gateway does not say which acknowledgement failed: the oldest one waiting is the best guess.
        const pending = this.#pendingAcks[0]
        if (pending === undefined) return
        this.#removeAck(pending)
        const code = frame.reason === 'invalid_request' ? 'INVALID_ARGUMENT' : 'UNAVAILABLE'
        pending.reject(new MechaError({ status: 0, code, reason: frame.reason, detail: frame.detail }))
        return
      }
      default:
        return
    }
  }

  #removeAck(pending: PendingAck): void {
    clearTimeout(pending.timer)
    const index = this.#pendingAcks.indexOf(pending)
    if (index >= 0) this.#pendingAcks.splice(index, 1)
  }

  #end(failure: unknown): void {
    if (this.#ended) return
    this.#ended = true
    this.#open = false
    this.#failure = failure
    this.#queue.length = 0
    this.#signal?.removeEventListener('abort', this.#onAbort)
    for (const pending of [...this.#pendingAcks]) {
      this.#removeAck(pending)
      pending.reject(failure ?? closedError('the connection was closed before the gateway confirmed'))
    }
    this.#wake()
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const wake of waiters) wake()
  }
}

/**
 * The WebSocket to use when none was given: the global one where it is known to send headers
 * (undici's in Node, Bun's), else the `ws` package, loaded only now.
 */
export async function defaultWebSocket(): Promise<WebSocketConstructor> {
  const scope = globalThis as { WebSocket?: unknown; Deno?: unknown; process?: { versions?: Record<string, string | undefined> } }
  const versions = scope.process?.versions
  if (typeof scope.WebSocket === 'function' && scope.Deno === undefined && (versions?.node !== undefined || versions?.bun !== undefined)) {
    return scope.WebSocket as WebSocketConstructor
  }
  // A non-literal specifier: browser bundlers must not try to bundle a Node package.
  const specifier = 'ws'
  try {
    const module = (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as { WebSocket?: unknown; default?: unknown }
    const constructor = module.WebSocket ?? module.default
    if (typeof constructor === 'function') return constructor as WebSocketConstructor
  } catch {
    // fall through to the explanation
  }
  throw new TypeError('expected options.WebSocket: no WebSocket implementation that sends headers was found (install the ws package, or pass one; browsers\' WebSocket cannot send headers)')
}

function parseFrame(data: unknown): ServerFrame | undefined {
  if (typeof data !== 'string') return undefined
  let frame: unknown
  try {
    frame = JSON.parse(data)
  } catch {
    return undefined
  }
  if (typeof frame !== 'object' || frame === null) return undefined
  const f = frame as Record<string, unknown>
  switch (f.type) {
    case 'ready':
      return typeof f.mecha === 'string' && typeof f.key_id === 'string' && typeof f.server_time === 'number' ? (f as ServerFrame) : undefined
    case 'message': {
      const message = f.message as { id?: unknown } | null | undefined
      return typeof message === 'object' && message !== null && typeof message.id === 'string' ? (f as ServerFrame) : undefined
    }
    case 'acked':
      return Array.isArray(f.ids) && typeof f.acknowledged === 'number' ? (f as ServerFrame) : undefined
    case 'error':
      return typeof f.reason === 'string' && typeof f.detail === 'string' ? (f as ServerFrame) : undefined
    default:
      return undefined
  }
}

function sameIds(a: readonly string[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i])
}

function closedError(detail: string): MechaError {
  return new MechaError({ status: 0, code: 'UNAVAILABLE', reason: 'connection_closed', detail })
}

function closeQuietly(socket: WebSocketLike): void {
  try {
    socket.close(1000)
  } catch {
    // already closing
  }
}


/** The `ws` package reports a refused upgrade (e.g. 401) with the response; WHATWG WebSockets cannot. */
function onRefusal(socket: WebSocketLike, listener: (response: RefusalResponse) => void): void {
  const emitter = socket as unknown as { on?: unknown }
  if (typeof emitter.on !== 'function') return
  ;(emitter as { on(event: string, listener: (request: unknown, response: RefusalResponse) => void): unknown })
    .on('unexpected-response', (_request, response) => listener(response))
}

function readRefusal(response: RefusalResponse): Promise<MechaError> {
  return new Promise<MechaError>((resolve) => {
    const chunks: Uint8Array[] = []
    let size = 0
    const done = (): void => {
      const body = new Uint8Array(size)
      let offset = 0
      for (const chunk of chunks) {
        body.set(chunk, offset)
        offset += chunk.length
      }
      const headers = {
        get(name: string): string | null {
          const value = response.headers[name]
          return typeof value === 'string' ? value : Array.isArray(value) ? value.join(', ') : null
        },
      }
      resolve(errorFromResponse(response.statusCode ?? 0, headers, new TextDecoder().decode(body)))
    }
    response.on('data', (chunk) => {
      if (chunk instanceof Uint8Array && size + chunk.length <= MAX_REFUSAL_BYTES) {
        chunks.push(chunk)
        size += chunk.length
      }
    })
    response.on('end', done)
    response.on('error', done)
  })
}

function describeEvent(event: WebSocketEventLike): string {
  return typeof event.message === 'string' && event.message !== '' ? ` (${event.message})` : ''
}

function describeClose(event: WebSocketEventLike): string {
  if (typeof event.code !== 'number') return ''
  return ` (code ${event.code}${typeof event.reason === 'string' && event.reason !== '' ? `: ${event.reason}` : ''})`
}
