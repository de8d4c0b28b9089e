import type { FastifyRequest } from 'fastify'
import type { RuntimeRequest } from './context.js'
import { headerCounts } from '../header-counts.js'

/** Adapt a Fastify request to the plain view the steps read. The body is read when the steps ask. */
export function runtimeRequest(request: FastifyRequest): RuntimeRequest {
  const url = request.raw.url ?? '/'
  const q = url.indexOf('?')
  let counts: Map<string, number> | undefined
  return {
    method: request.method,
    path: q === -1 ? url : url.slice(0, q),
    query: q === -1 ? '?' : url.slice(q),
    header(name: string): string | undefined {
      const value = request.headers[name]
      if (value === undefined) return undefined
      return (Array.isArray(value) ? value.join(', ') : value).trim()
    },
    headerCount(name: string): number {
      counts ??= headerCounts(request.raw.rawHeaders)
      return counts.get(name) ?? 0
    },
    get body(): Uint8Array | undefined {
      return request.rawBody
    },
    get clientAddress(): string {
      return request.ip
    },
  }
}
