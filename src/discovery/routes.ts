import { readFileSync } from 'node:fs'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { parse } from 'yaml'
import type { Config } from '../config/schema.js'
import { Problem } from '../errors/problem.js'
import { SCHEMAS, schemaNames, type SchemaName } from '../schemas/registry.js'
import { discoveryDocument } from './well-known.js'
import type { DurabilityReport } from '../stores/durability.js'

export interface DiscoveryRouteOptions {
  config: Config
  version: string
  /** The committed top-level openapi.yaml, as text. */
  openapiYaml: string
  /** What a 202 promises, as found at start. */
  durability: DurabilityReport
}

/** Discovery documents change only with a deployment: let clients and proxies cache them briefly. */
const CACHE = 'public, max-age=300'

function cached(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', CACHE)
}

/** The open, descriptive documents. Nothing here reads a credential or a store. */
export async function discoveryRoutes(app: FastifyInstance, options: DiscoveryRouteOptions): Promise<void> {
  const wellKnown = discoveryDocument(options.config, options.version, options.durability)
  const openapiJson = parse(options.openapiYaml) as unknown

  app.get('/.well-known/mecharim', async (_request, reply) => cached(reply).send(wellKnown))
  app.get('/openapi.yaml', async (_request, reply) => cached(reply).type('application/yaml; charset=utf-8').send(options.openapiYaml))
  app.get('/openapi.json', async (_request, reply) => cached(reply).send(openapiJson))
  app.get('/v1/schemas', async (_request, reply) => cached(reply).send({
    schemas: schemaNames().map((name) => ({ name, $id: SCHEMAS[name].$id, title: SCHEMAS[name].title, url: `${options.config.publicUrl}/v1/schemas/${name}` })),
  }))
  app.get<{ Params: { name: string } }>('/v1/schemas/:name', async (request, reply) => {
    const name = request.params.name
    if (!Object.prototype.hasOwnProperty.call(SCHEMAS, name)) throw new Problem('route_not_found', `no schema ${JSON.stringify(name.slice(0, 64))}; see /v1/schemas`)
    return cached(reply).type('application/schema+json').send(SCHEMAS[name as SchemaName])
  })
}

/** The committed OpenAPI document, found next to the package (src/ or dist/ alike). */
export function readOpenapiYaml(): string {
  return readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')
}

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}
