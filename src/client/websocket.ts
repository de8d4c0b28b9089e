import { FRAME_AUTH_PROTOCOL, authenticateFrame } from '../frame-auth.js'
import { MechaError, staleServerTime } from './errors.js'
import { LIFECYCLE_ANSWERS, ackFrame, frameError, handshakeError, lifecycleFrame, parseFrame, type LifecycleFrameType, type ServerFrame } from './frames.js'
import { checkMessageIds } from './ids.js'
import { extendSeconds, nackBody, rejectBody } from './lifecycle.js'
import { closeOutcome, reconnectDelayMs, retryable, type CloseOutcome, type ReconnectPolicy } from './reconnect.js'
import { closeQuietly, describeClose, describeEvent, onRefusal, readRefusal, type ResolvedWebSocket } from './socket.js'
import type { ConnectionReady, Message, NackOptions, ReconnectingEvent, RejectOptions, WebSocketLike } from './types.js'

/**
 * A message pushed over the WebSocket; `ack()`, `nack()`, `extend()` and `reject()` act on it over the
 * connection (not enumerable). Each resolves with 1, or 0 when it was no longer delivered and pending.
 */
export interface DeliveredMessage extends Message {
  /** Acknowledge this message. */
  ack(): Promise<number>
  /** Deliver it again after `delaySeconds` (default: the recipient's backoff). */
  nack(options?: NackOptions): Promise<number>
  /** Keep it invisible until `seconds` from now (at most 12 hours after its delivery). */
  extend(seconds: number): Promise<number>
  /** Dead-letter it now (reason `rejected`); its sender gets a `mecha.delivery.failed` receipt. */
  reject(options?: RejectOptions): Promise<number>
}

/** What a connection needs from its client (kept out of the public API). */
export interface ConnectSession {
  /** ws(s)://host/v1/connect */
  url: string
  /**
   * Fresh credential headers (new nonce, current time): for the upgrade request, or, given the
   * gateway's challenge, for the authenticate frame of first-frame authentication.
   */
  headers(challenge?: string): Record<string, string>
  webSocket(): Promise<ResolvedWebSocket>
  timeoutMs: number
  learnServerTime(serverTime: number): void
}

interface PendingAck {
  ids: readonly string[]
  /** The frame that answers it: `acked`, or `nacked`/`extended`/`rejected` for the lifecycle frames. */
  answer: 'acked' | 'nacked' | 'extended' | 'rejected'
  /** The frame as sent (with its ref). */
  frame: string
  /** Echoed by the gateway on the `acked` or `error` frame that answers (gateways without refs do not). */
  ref: string
  /** The socket it was last sent on; unsent while the connection is reconnecting. */
  sentOn: WebSocketLike | undefined
  resolve(acknowledged: number): void
  reject(error: unknown): void
  timer: ReturnType<typeof setTimeout>
}

/** What {@link MechaConnection} takes from `connect()`'s options, checked there. */
export interface ConnectionOptions {
  signal?: AbortSignal
  reconnect: ReconnectPolicy
  onReconnecting?: (event: ReconnectingEvent) => void
  onReconnect?: (ready: ConnectionReady) => void
}

const OPEN = 1

/**
 * One GET /v1/connect session, iterated for the messages the gateway pushes. It opens at once;
 * `ready` settles when the gateway has authenticated it, from the upgrade's headers or, where the
 * WebSocket cannot send headers, from the first frame, an answer to the gateway's challenge. A
 * `stale_timestamp` refusal (of the upgrade, readable with the `ws` package, or in an error frame)
 * corrects the clock and is retried once, like an HTTP call.
 *
 * Once open, it outlives its sockets: when the gateway asks it to authenticate again, or the socket is
 * lost, it reconnects with fresh credentials (see `ConnectOptions.reconnect`). Received messages stay
 * queued for the iterator meanwhile, and acknowledgements wait for the new socket: `ack()` resolves
 * only with the gateway's answer. The gateway delivers unacknowledged messages again (at-least-once),
 * so a message may be seen twice across a reconnect; never lost.
 */
export class MechaConnection implements AsyncIterable<DeliveredMessage> {
  /** The gateway's first `ready` frame: the connection is authenticated and messages will follow. */
  readonly ready: Promise<ConnectionReady>
  readonly #session: ConnectSession
  readonly #options: ConnectionOptions
  readonly #queue: DeliveredMessage[] = []
  /** Ids in the queue: a redelivery of a message still waiting there is not queued twice. */
  readonly #queuedIds = new Set<string>()
  readonly #pendingAcks: PendingAck[] = []
  #waiters: (() => void)[] = []
  /** The latest socket, opening or open. */
  #socket: WebSocketLike | undefined
  /** `#socket` is open and has not announced its closing: acknowledgements may be sent on it. */
  #live = false
  #closing = false
  #ended = false
  #failure: unknown
  #refs = 0
  #cancelWait: (() => void) | undefined
  readonly #onAbort = (): void => this.close()

  constructor(session: ConnectSession, options: ConnectionOptions) {
    this.#session = session
    this.#options = options
    options.signal?.addEventListener('abort', this.#onAbort, { once: true })
    this.ready = this.#first()
    // Failures reach the caller through the iterator; `ready` is for those who want to await it.
    this.ready.catch(() => undefined)
  }

  /**
   * Acknowledge delivered messages over the socket (1 to 100 ids). Resolves with how many were
   * pending, as the gateway answered; while reconnecting, the acknowledgement waits for the new socket
   * (within the client's `timeoutMs`).
   */
  async ack(ids: readonly string[]): Promise<number> {
    checkMessageIds(ids)
    const ref = `ack.${this.#refs + 1}`
    return this.#request([...ids], 'acked', ref, ackFrame(ids, ref), 'acknowledgement')
  }

  /**
   * A `nack` frame: deliver delivered, unacknowledged messages (1 to 100 ids) again after
   * `delaySeconds` (default: the recipient's backoff). Resolves with the gateway's `nacked` count.
   * Like an acknowledgement, it waits for the new socket while reconnecting, and one sent on a socket
   * that closed unanswered is sent again (a message redelivered meanwhile may then be nacked again).
   */
  async nack(ids: readonly string[], options: NackOptions = {}): Promise<number> {
    return this.#lifecycle('nack', nackBody(ids, options))
  }

  /** An `extend` frame: keep delivered messages invisible until `seconds` from now. Resolves with the `extended` count. */
  async extend(ids: readonly string[], seconds: number): Promise<number> {
    checkMessageIds(ids)
    return this.#lifecycle('extend', { ids: [...ids], seconds: extendSeconds(seconds) })
  }

  /** A `reject` frame: dead-letter delivered messages now (reason `rejected`). Resolves with the `rejected` count. */
  async reject(ids: readonly string[], options: RejectOptions = {}): Promise<number> {
    return this.#lifecycle('reject', rejectBody(ids, options))
  }

  #lifecycle(type: LifecycleFrameType, fields: { ids: string[] } & Record<string, unknown>): Promise<number> {
    const ref = `${type}.${this.#refs + 1}`
    return this.#request(fields.ids, LIFECYCLE_ANSWERS[type].type, ref, lifecycleFrame(type, fields, ref), type)
  }

  #request(ids: readonly string[], answer: PendingAck['answer'], ref: string, frame: string, what: string): Promise<number> {
    if (this.#closing || this.#ended) return Promise.reject(closedError('the connection is not open'))
    this.#refs += 1
    const timeoutMs = this.#session.timeoutMs
    return new Promise<number>((resolve, reject) => {
      const pending: PendingAck = {
        ids, answer, frame, ref, sentOn: undefined, resolve, reject,
        timer: setTimeout(() => {
          this.#removeAck(pending)
          reject(new MechaError({ status: 0, code: 'UNAVAILABLE', reason: 'network_error', detail: `no answer to the ${what} from the gateway within ${timeoutMs} ms` }))
        }, timeoutMs),
      }
      this.#pendingAcks.push(pending)
      this.#sendAck(pending)
    })
  }

  /**
   * Close the connection; iteration ends. Messages received but not yet iterated are dropped: being
   * unacknowledged, the gateway delivers them again after its visibility timeout.
   */
  close(): void {
    if (this.#closing) return
    this.#closing = true
    this.#cancelWait?.()
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
      if (message !== undefined) {
        this.#queuedIds.delete(message.id)
        return { value: message, done: false }
      }
      if (this.#ended) {
        if (this.#failure !== undefined) throw this.#failure
        return { value: undefined, done: true }
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
  }

  async #first(): Promise<ConnectionReady> {
    try {
      return await this.#open()
    } catch (err) {
      const signal = this.#options.signal
      const aborted = signal?.aborted === true
      this.#end(aborted || this.#closing ? undefined : err)
      throw aborted ? signal?.reason : err
    }
  }

  /** Open a socket with fresh credentials; a stale timestamp corrects the clock and is retried once. */
  async #open(): Promise<ConnectionReady> {
    for (let attempt = 0; ; attempt++) {
      this.#options.signal?.throwIfAborted()
      const webSocket = await this.#session.webSocket()
      if (this.#closing) throw closedError('closed before the gateway was ready')
      try {
        return await this.#handshake(webSocket)
      } catch (err) {
        const serverTime = attempt === 0 && !this.#closing ? staleServerTime(err) : undefined
        if (serverTime === undefined) throw err
        this.#session.learnServerTime(serverTime)
      }
    }
  }

  /** After an open socket closed for a reason worth a new one: attempt until one opens or the policy gives up. */
  async #reconnect(cause: MechaError): Promise<void> {
    const policy = this.#options.reconnect
    for (let attempt = 1; ; attempt++) {
      if (attempt > policy.maxAttempts) return this.#end(cause)
      const delayMs = reconnectDelayMs(policy, attempt, cause)
      this.#notify(() => this.#options.onReconnecting?.({ attempt, delayMs, cause }))
      if (this.#closing || this.#ended) return
      await this.#wait(delayMs)
      if (this.#closing || this.#ended) return
      try {
        const ready = await this.#open()
        this.#notify(() => this.#options.onReconnect?.(ready))
        return
      } catch (err) {
        if (this.#closing || this.#ended) return
        if (!retryable(err)) return this.#end(err)
        cause = err
      }
    }
  }

  #handshake(webSocket: ResolvedWebSocket): Promise<ConnectionReady> {
    const session = this.#session
    return new Promise<ConnectionReady>((resolve, reject) => {
      let phase: 'handshake' | 'open' | 'done' = 'handshake'
      let refusal: Promise<MechaError> | undefined
      let closing: { reason: string; detail: string } | undefined
      // First-frame authentication: the upgrade carries no credentials; they answer the challenge.
      let challenged = false
      const socket = webSocket.handshake === 'headers'
        ? new webSocket.WebSocket(session.url, { headers: session.headers() })
        : new webSocket.WebSocket(session.url, [FRAME_AUTH_PROTOCOL])
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
          if (webSocket.handshake === 'frame') {
            // The refusal of a first-frame handshake says as much as a refused upgrade's problem body.
            if (frame?.type === 'error') return fail(handshakeError(frame))
            if (!challenged) {
              if (frame?.type !== 'challenge') {
                return fail(new MechaError({ status: 0, code: 'UNAVAILABLE', reason: 'invalid_response', detail: 'the gateway did not open with a challenge frame (first-frame authentication)' }))
              }
              challenged = true
              try {
                socket.send(authenticateFrame(session.headers(frame.challenge)))
              } catch (err) {
                fail(err)
              }
              return
            }
          }
          if (frame?.type !== 'ready') {
            failWith(new MechaError({ status: 0, code: 'UNAVAILABLE', reason: 'invalid_response', detail: 'the gateway did not open with a ready frame' }))
            return
          }
          phase = 'open'
          clearTimeout(timer)
          this.#live = true
          // Whatever waits for an answer was sent on a socket that is gone (or not at all): send it here.
          for (const pending of this.#pendingAcks) this.#sendAck(pending)
          resolve({ mecha: frame.mecha, key_id: frame.key_id, server_time: frame.server_time })
        } else if (phase === 'open' && frame !== undefined) {
          if (frame.type === 'closing') {
            // The close follows: acknowledgements from now on wait for the next socket.
            closing = { reason: frame.reason, detail: frame.detail }
            this.#live = false
          } else {
            this.#onFrame(socket, frame)
          }
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
          this.#live = false
          this.#onClosed(closeOutcome(event, closing))
        }
      })
    })
  }

  #onClosed(outcome: CloseOutcome): void {
    if (this.#closing || this.#ended) return
    if (!outcome.reconnect) return this.#end(outcome.error)
    if (!this.#options.reconnect.enabled) return this.#end(outcome.cause)
    void this.#reconnect(outcome.cause)
  }

  #onFrame(socket: WebSocketLike, frame: ServerFrame): void {
    switch (frame.type) {
      case 'message': {
        const { id } = frame.message
        if (this.#queuedIds.has(id)) return
        const delivered = Object.defineProperties({ ...frame.message }, {
          ack: { value: () => this.ack([id]), enumerable: false },
          nack: { value: (options?: NackOptions) => this.nack([id], options), enumerable: false },
          extend: { value: (seconds: number) => this.extend([id], seconds), enumerable: false },
          reject: { value: (options?: RejectOptions) => this.reject([id], options), enumerable: false },
        }) as DeliveredMessage
        this.#queue.push(delivered)
        this.#queuedIds.add(id)
        this.#wake()
        return
      }
      case 'acked': {
        const pending = frame.ref !== undefined
          ? this.#pendingAcks.find((p) => p.ref === frame.ref)
          : this.#pendingAcks.find((p) => p.answer === 'acked' && p.sentOn === socket && sameIds(p.ids, frame.ids))
        if (pending === undefined || pending.answer !== 'acked') return
        this.#removeAck(pending)
        if (frame.reason === undefined) pending.resolve(frame.acknowledged)
        else pending.reject(frameError(frame.reason, frame.detail ?? 'the acknowledgement was refused'))
        return
      }
      case 'nacked':
      case 'extended':
      case 'rejected': {
        const pending = frame.ref !== undefined
          ? this.#pendingAcks.find((p) => p.ref === frame.ref)
          : this.#pendingAcks.find((p) => p.answer === frame.type && p.sentOn === socket && sameIds(p.ids, frame.ids))
        if (pending === undefined || pending.answer !== frame.type) return
        this.#removeAck(pending)
        if (frame.reason === undefined) pending.resolve(frame.count)
        else pending.reject(frameError(frame.reason, frame.detail ?? `the ${frame.type.slice(0, -2)} was refused`))
        return
      }
      case 'error': {
        // Without a ref (older gateways), the oldest acknowledgement waiting on this socket is the best guess.
        const pending = frame.ref !== undefined
          ? this.#pendingAcks.find((p) => p.ref === frame.ref)
          : this.#pendingAcks.find((p) => p.sentOn === socket)
        if (pending === undefined) return
        this.#removeAck(pending)
        pending.reject(frameError(frame.reason, frame.detail))
        return
      }
      default:
        return
    }
  }

  #sendAck(pending: PendingAck): void {
    const socket = this.#socket
    if (!this.#live || socket === undefined || socket.readyState !== OPEN) return
    pending.sentOn = socket
    socket.send(pending.frame)
  }

  #removeAck(pending: PendingAck): void {
    clearTimeout(pending.timer)
    const index = this.#pendingAcks.indexOf(pending)
    if (index >= 0) this.#pendingAcks.splice(index, 1)
  }

  /** Run a user callback; one that throws ends the connection with its error. */
  #notify(callback: () => void): void {
    try {
      callback()
    } catch (err) {
      closeQuietly(this.#socket)
      this.#end(err)
    }
  }

  /** A wait that `close()` cuts short. */
  #wait(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms)
      this.#cancelWait = done
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
    }).finally(() => { this.#cancelWait = undefined })
  }

  /**
   * End the connection. After `close()` (no failure) the queue is dropped; after a failure the
   * messages already received are still handed out, then the iterator throws.
   */
  #end(failure: unknown): void {
    if (this.#ended) return
    this.#ended = true
    this.#live = false
    this.#failure = failure
    if (failure === undefined) {
      this.#queue.length = 0
      this.#queuedIds.clear()
    }
    this.#cancelWait?.()
    this.#options.signal?.removeEventListener('abort', this.#onAbort)
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

function sameIds(a: readonly string[], b: readonly unknown[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i])
}

function closedError(detail: string): MechaError {
  return new MechaError({ status: 0, code: 'UNAVAILABLE', reason: 'connection_closed', detail })
}
