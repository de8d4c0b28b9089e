import { MechaError, errorFromResponse } from './errors.js'
import type { WebSocketConstructor, WebSocketEventLike, WebSocketLike } from './types.js'

/** A Node `http.IncomingMessage`, as the `ws` package hands it to `unexpected-response`. */
interface RefusalResponse {
  statusCode?: number
  headers: Record<string, string | string[] | undefined>
  on(event: string, listener: (chunk?: unknown) => void): unknown
}

const MAX_REFUSAL_BYTES = 64 * 1024

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
