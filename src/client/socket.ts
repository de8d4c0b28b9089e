import { MechaError, errorFromResponse } from './errors.js'
import type { FrameWebSocketConstructor, WebSocketAuth, WebSocketConstructor, WebSocketEventLike, WebSocketLike } from './types.js'

/** A Node `http.IncomingMessage`, as the `ws` package hands it to `unexpected-response`. */
interface RefusalResponse {
  statusCode?: number
  headers: Record<string, string | string[] | undefined>
  on(event: string, listener: (chunk?: unknown) => void): unknown
}

const MAX_REFUSAL_BYTES = 64 * 1024

/** A WebSocket constructor and how connect() authenticates sockets made with it. */
export type ResolvedWebSocket =
  | { handshake: 'headers'; WebSocket: WebSocketConstructor }
  | { handshake: 'frame'; WebSocket: FrameWebSocketConstructor }

/**
 * The WebSocket to use when none was given. With headers: the global one where it is known to send
 * them (undici's in Node, Bun's), else the `ws` package, loaded only now. Where the global one cannot
 * send headers (browsers, Deno, workers), it is used with first-frame authentication.
 */
export async function defaultWebSocket(mode: WebSocketAuth | undefined): Promise<ResolvedWebSocket> {
  const global = (globalThis as { WebSocket?: unknown }).WebSocket
  if (typeof global === 'function') {
    // undici's and Bun's take both forms: (url, { headers }) and (url, protocols).
    if (globalSendsHeaders()) return { handshake: mode ?? 'headers', WebSocket: global } as ResolvedWebSocket
    if (mode !== 'headers') return { handshake: 'frame', WebSocket: global as FrameWebSocketConstructor }
  }
  // A non-literal specifier: browser bundlers must not try to bundle a Node package.
  const specifier = 'ws'
  try {
    const module = (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as { WebSocket?: unknown; default?: unknown }
    const constructor = module.WebSocket ?? module.default
    // The ws package takes both forms: (url, { headers }) and (url, protocols).
    if (typeof constructor === 'function') return { handshake: mode ?? 'headers', WebSocket: constructor } as ResolvedWebSocket
  } catch {
    // fall through to the explanation
  }
  throw new TypeError(mode === 'frame'
    ? 'expected options.WebSocket: this runtime has no WebSocket (install the ws package, or pass one)'
    : 'expected options.WebSocket: no WebSocket implementation that sends headers was found (install the ws package, pass one, or use webSocketAuth: "frame")')
}

/**
 * How a given constructor authenticates when `webSocketAuth` is not set: the global WebSocket of a
 * runtime where it cannot send headers authenticates in its first frame; any other is taken to
 * accept `{ headers }`, as documented for `options.WebSocket`.
 */
export function resolveWebSocket(WebSocket: WebSocketConstructor | FrameWebSocketConstructor, mode: WebSocketAuth | undefined): ResolvedWebSocket {
  const handshake = mode ?? (WebSocket === (globalThis as { WebSocket?: unknown }).WebSocket && !globalSendsHeaders() ? 'frame' : 'headers')
  return { handshake, WebSocket } as ResolvedWebSocket
}

/** The global WebSocket sends headers in Node (undici) and Bun; a browser's, Deno's or a worker's does not. */
function globalSendsHeaders(): boolean {
  const scope = globalThis as { Deno?: unknown; process?: { versions?: Record<string, string | undefined> } }
  const versions = scope.process?.versions
  return scope.Deno === undefined && (versions?.node !== undefined || versions?.bun !== undefined)
}

export function closeQuietly(socket: WebSocketLike | undefined): void {
  try {
    socket?.close(1000)
  } catch {
    // already closing
  }
}


/** The `ws` package reports a refused upgrade (e.g. 401) with the response; WHATWG WebSockets cannot. */
export function onRefusal(socket: WebSocketLike, listener: (response: RefusalResponse) => void): void {
  const emitter = socket as unknown as { on?: unknown }
  if (typeof emitter.on !== 'function') return
  ;(emitter as { on(event: string, listener: (request: unknown, response: RefusalResponse) => void): unknown })
    .on('unexpected-response', (_request, response) => listener(response))
}

export function readRefusal(response: RefusalResponse): Promise<MechaError> {
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

export function describeEvent(event: WebSocketEventLike): string {
  return typeof event.message === 'string' && event.message !== '' ? ` (${event.message})` : ''
}

export function describeClose(event: WebSocketEventLike): string {
  if (typeof event.code !== 'number') return ''
  return ` (code ${event.code}${typeof event.reason === 'string' && event.reason !== '' ? `: ${event.reason}` : ''})`
}
