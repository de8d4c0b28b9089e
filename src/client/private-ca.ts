import type { FetchLike, FrameWebSocketConstructor, WebSocketConstructor } from './types.js'

/**
 * The `ca` option: fetch and WebSocket that trust a private certificate authority. Node only, as a
 * CA cannot be handed to a browser's fetch: Node's global fetch takes no CA either, so calls go
 * through the `undici` package's fetch with an Agent that trusts `ca` (its own fetch, not the global
 * one, so that the Agent and the fetch are always the same undici version), and the WebSocket is the
 * `ws` package's with `ca`. Both are loaded on first use; non-literal specifiers keep bundlers out.
 */
export function fetchTrusting(ca: string): FetchLike {
  let loaded: Promise<{ fetch: (input: string, init: object) => Promise<unknown>; dispatcher: object }> | undefined
  return async (input, init) => {
    loaded ??= loadUndici(ca)
    const { fetch, dispatcher } = await loaded
    return (await fetch(input, { ...init, dispatcher })) as Response
  }
}

export async function webSocketTrusting(ca: string): Promise<WebSocketConstructor & FrameWebSocketConstructor> {
  const specifier = 'ws'
  let module: { WebSocket?: unknown; default?: unknown }
  try {
    module = (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as typeof module
  } catch {
    throw new TypeError('expected the ws package for options.ca (npm install ws)')
  }
  const Base = (module.WebSocket ?? module.default) as new (url: string, ...rest: unknown[]) => object
  // Both forms connect() uses: (url, { headers }), and (url, protocols) for first-frame authentication.
  class TrustingWebSocket extends Base {
    constructor(url: string, options: { headers: Record<string, string> } | string[]) {
      if (Array.isArray(options)) super(url, options, { ca })
      else super(url, { ...options, ca })
    }
  }
  return TrustingWebSocket as unknown as WebSocketConstructor & FrameWebSocketConstructor
}

async function loadUndici(ca: string): Promise<{ fetch: (input: string, init: object) => Promise<unknown>; dispatcher: object }> {
  const specifier = 'undici'
  let module: { fetch?: unknown; Agent?: unknown }
  try {
    module = (await import(/* webpackIgnore: true */ /* @vite-ignore */ specifier)) as typeof module
  } catch {
    throw new TypeError('expected the undici package for options.ca (npm install undici)')
  }
  const Agent = module.Agent as new (options: { connect: { ca: string } }) => object
  return { fetch: module.fetch as (input: string, init: object) => Promise<unknown>, dispatcher: new Agent({ connect: { ca } }) }
}
