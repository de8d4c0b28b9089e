import type { FastifyRequest } from 'fastify'
import type { RuntimeRequest } from './context.js'
import { headerCount } from '../header-counts.js'
import { trimOptionalWhitespace } from '../crypto/structured-fields.js'

/**
 * The plain view of a Fastify request the steps read. A class, so a request costs one small object
 * (no closures); the body and the client address are read when a step asks.
 */
class FastifyRuntimeRequest implements RuntimeRequest {
  readonly method: string
  readonly path: string
  readonly query: string
  readonly #request: FastifyRequest

  constructor(request: FastifyRequest) {
    this.#request = request
    this.method = request.method
    const url = request.raw.url ?? '/'
    const q = url.indexOf('?')
    this.path = q === -1 ? url : url.slice(0, q)
    this.query = q === -1 ? '?' : url.slice(q)
  }

  header(name: string): string | undefined {
    const value = this.#request.headers[name]
    if (value === undefined) return undefined
    return trimOptionalWhitespace(Array.isArray(value) ? value.join(', ') : value)
  }

  headerCount(name: string): number {
    return headerCount(this.#request.raw.rawHeaders, name)
  }

  get body(): Uint8Array | undefined {
    return this.#request.rawBody
  }

  get clientAddress(): string {
    return this.#request.ip
  }
}

/** Adapt a Fastify request to the plain view the steps read. */
export function runtimeRequest(request: FastifyRequest): RuntimeRequest {
  return new FastifyRuntimeRequest(request)
}
