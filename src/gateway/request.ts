import type { Socket } from 'node:net'
import type { FastifyRequest } from 'fastify'
import type { Problem } from '../errors/problem.js'
import type { RuntimeRequest } from './context.js'
import { headerCount } from '../header-counts.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the gateway's body parser instead of failing the request: the pipeline answers it after authentication. */
    bodyProblem?: Problem
  }
}

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
    return (Array.isArray(value) ? value.join(', ') : value).trim()
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

  get json(): unknown {
    return this.#request.body
  }

  get queryParams(): Readonly<Record<string, unknown>> {
    return this.#request.query as Record<string, unknown>
  }

  get bodyProblem(): Problem | undefined {
    return this.#request.bodyProblem
  }

  get validationError(): Error | undefined {
    return this.#request.validationError
  }

  get signal(): AbortSignal {
    const left = new AbortController()
    this.#request.raw.once('close', () => left.abort())
    return AbortSignal.any([left.signal, this.#request.server.shutdownSignal])
  }

  get upgrade(): boolean {
    return this.#request.ws
  }

  get connection(): Socket {
    return this.#request.raw.socket
  }
}

/** Adapt a Fastify request to the plain view the steps read. */
export function runtimeRequest(request: FastifyRequest): RuntimeRequest {
  return new FastifyRuntimeRequest(request)
}
