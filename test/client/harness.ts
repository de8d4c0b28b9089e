import WebSocket from 'ws'
import type { Env } from '../../src/config/load.js'
import { MechaClient, type DeliveredMessage, type MechaClientOptions, type MechaConnection, type MechaCredentials, type WebSocketEventLike } from '../../src/client/index.js'
import { gatewayHarness, type GatewayHarness, type IssuedRuntime } from '../helpers/gateway.js'

export type AuthMode = 'token' | 'hmac-sha256' | 'ed25519' | 'token+hmac-sha256' | 'token+ed25519'

export interface SdkHarness extends GatewayHarness {
  /** Register a mecha and issue it a key usable with `mode`; returns SDK credentials. */
  runtime(mecha: string, mode: AuthMode, keyBody?: Record<string, unknown>): Promise<MechaCredentials & { keyId: string }>
  /** A client for this gateway, signing for its configured public authority. */
  client(credentials: MechaCredentials, extra?: Partial<MechaClientOptions>): MechaClient
}

/** A real gateway over HTTP (embedded store), plus SDK clients for it. */
export async function sdkHarness(env: Env = {}): Promise<SdkHarness> {
  const h = await gatewayHarness(env)
  const registered = new Set<string>()
  return {
    ...h,
    async runtime(mecha, mode, keyBody = {}) {
      if (!registered.has(mecha)) {
        await h.register(mecha)
        registered.add(mecha)
      }
      const alg = mode.replace(/^token\+?/, '')
      const signature = { ...(keyBody.signature as object | undefined), algorithms: [alg] }
      const issued = await h.issue(mecha, alg === '' ? keyBody : { ...keyBody, signature })
      return credentialsFor(issued, mode)
    },
    client(credentials, extra = {}) {
      return new MechaClient({ url: h.base, authority: h.t.config.publicAuthority, ...credentials, ...extra })
    },
  }
}

export function credentialsFor(issued: IssuedRuntime, mode: AuthMode): MechaCredentials & { keyId: string } {
  const credentials: MechaCredentials & { keyId: string } = { keyId: issued.keyId }
  if (mode.startsWith('token')) credentials.token = issued.token
  if (mode.endsWith('hmac-sha256')) credentials.signingSecret = issued.signingSecret
  if (mode.endsWith('ed25519')) {
    const seed = issued.privateKey?.export({ format: 'jwk' }).d
    if (seed === undefined) throw new Error('no ed25519 private key issued')
    credentials.privateKey = seed
  }
  return credentials
}

/** A fetch that counts calls and can rewrite the request before it goes out. */
export function recordingFetch(rewrite?: (init: RequestInit & { headers: Record<string, string> }) => void): { fetch: typeof fetch; calls: { url: string; headers: Record<string, string> }[] } {
  const calls: { url: string; headers: Record<string, string> }[] = []
  const wrapped = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = { ...init, headers: { ...(init?.headers as Record<string, string>) } }
    rewrite?.(request)
    calls.push({ url: String(input), headers: request.headers })
    return fetch(input, request)
  }
  return { fetch: wrapped, calls }
}

/** The next message a connection yields; an ended connection is an error here. */
export async function nextMessage(connection: MechaConnection): Promise<DeliveredMessage> {
  const result = await connection[Symbol.asyncIterator]().next()
  if (result.done === true) throw new Error('the connection ended')
  return result.value
}

/**
 * A `ws` socket behind only the WHATWG surface (readyState, send, close, addEventListener), as
 * undici's global WebSocket and browsers have it: the SDK must need nothing more.
 */
export class WhatwgSocket {
  readonly #socket: WebSocket
  constructor(url: string, protocolsOrOptions?: string | string[] | { headers: Record<string, string> }) {
    this.#socket = new WebSocket(url, protocolsOrOptions as string | string[])
  }

  get readyState(): number {
    return this.#socket.readyState
  }

  send(data: string): void {
    this.#socket.send(data)
  }

  close(code?: number, reason?: string): void {
    this.#socket.close(code, reason)
  }

  addEventListener(type: 'open' | 'message' | 'close' | 'error', listener: (event: WebSocketEventLike) => void): void {
    this.#socket.addEventListener(type, listener)
  }
}
