import type { Socket } from 'node:net'
import type { FastifyRequest } from 'fastify'
import type { Problem } from '../errors/problem.js'
import type { RuntimeRequest } from './context.js'
import { headerCount } from '../header-counts.js'
import { trimOptionalWhitespace } from '../crypto/structured-fields.js'

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
    const { path, query } = splitRequestTarget(request.raw.url ?? '/')
    this.path = path
    this.query = query
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

  get json(): unknown {
    return this.#request.body
  }

  get queryParams(): Readonly<Record<string, unknown>> {
    return this.#request.query as Record<string, unknown>
  }

  get params(): Readonly<Record<string, unknown>> {
    return this.#request.params as Record<string, unknown>
  }

  get requestId(): string {
    return this.#request.id
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

/**
 * `@path` and `@query` of a request target (RFC 9421 sections 2.2.6, 2.2.7), percent-encoding
 * untouched. An absolute-form target (`http://host/v1/messages`, RFC 9112 section 3.2.2) loses its
 * scheme and authority, as find-my-way does when it routes it: the path signed is the path routed.
 */
export function splitRequestTarget(target: string): { path: string; query: string } {
  if (typeof target !== 'string') throw new TypeError(`expected a request target as a string, got ${typeof target}`)
  let url = target
  const absolute = ABSOLUTE_FORM_RE.exec(target)
  if (absolute !== null) {
    const rest = target.slice(absolute[0].length)
    url = rest.startsWith('/') ? rest : `/${rest}`
  }
  const q = url.indexOf('?')
  return q === -1 ? { path: url, query: '?' } : { path: url.slice(0, q), query: url.slice(q) }
}

/** The scheme and authority of an http(s) absolute-form target: up to the first `/` or `?`. */
const ABSOLUTE_FORM_RE = /^https?:\/\/[^/?]*/i

/** Adapt a Fastify request to the plain view the steps read. */
export function runtimeRequest(request: FastifyRequest): RuntimeRequest {
  return new FastifyRuntimeRequest(request)
}
