import swagger, { type StaticDocumentSpec } from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import { parse } from 'yaml'

export interface DocsOptions {
  /** The committed top-level openapi.yaml, as text. */
  openapiYaml: string
}

/** The page and the document change only with a deployment, like the other discovery documents. */
const PAGE_CACHE = 'public, max-age=300'
/** The Swagger UI bundle changes only when the package does; after a day clients revalidate (ETag). */
const ASSET_CACHE = 'public, max-age=86400'
const ASSET_ROUTE = '/docs/static/'

/**
 * GET /docs: the interactive API reference (Swagger UI) rendered from the committed OpenAPI document.
 * Every asset is served from this process: the page works offline and loads nothing from third
 * parties, which the Content-Security-Policy enforces.
 */
export async function docsRoutes(app: FastifyInstance, options: DocsOptions): Promise<void> {
  const document = openapiDocument(options.openapiYaml)

  // Added before the UI registers so that its routes (and @fastify/static's) inherit the hook.
  app.addHook('onSend', async (request, reply) => {
    if (reply.statusCode !== 200 && reply.statusCode !== 304) return
    const assets = request.routeOptions.url?.startsWith(ASSET_ROUTE) === true
    void reply.header('cache-control', assets ? ASSET_CACHE : PAGE_CACHE)
  })

  await app.register(swagger, { mode: 'static', specification: { document } })
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: contentSecurityPolicy(document),
    theme: { title: 'Mecharim API reference' },
    uiConfig: {
      // No top bar: it carries only vendor branding (its SVG logo needs an inline <style>, which the
      // policy refuses) and an "explore" box that would fetch other documents.
      layout: 'BaseLayout',
      displayOperationId: true,
      // A credential typed into "Authorize" lives in page memory only, never in localStorage.
      persistAuthorization: false,
      withCredentials: false,
    },
  })
}

/** The parsed OpenAPI document; anything else stops the process at start-up. */
function openapiDocument(yaml: string): StaticDocumentSpec['document'] {
  const parsed = parse(yaml) as unknown
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { openapi?: unknown }).openapi !== 'string') {
    throw new TypeError(`expected an OpenAPI document with an "openapi" version, got ${parsed === null ? 'null' : typeof parsed}`)
  }
  return parsed as StaticDocumentSpec['document']
}

/**
 * Only this origin may serve scripts, styles, fonts and images (plus data: images: the stylesheet's icons); no
 * inline script, no eval, no framing. "Try it out" may call this origin and the servers the document
 * lists, nothing else.
 */
function contentSecurityPolicy(document: StaticDocumentSpec['document']): Record<string, string[]> {
  return {
    'default-src': ["'none'"],
    'base-uri': ["'none'"],
    'connect-src': ["'self'", ...serverOrigins(document)],
    'font-src': ["'self'", 'data:'],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
    'img-src': ["'self'", 'data:'],
    'manifest-src': ["'self'"],
    'object-src': ["'none'"],
    'script-src': ["'self'"],
    'script-src-attr': ["'none'"],
    'style-src': ["'self'"],
  }
}

function serverOrigins(document: StaticDocumentSpec['document']): string[] {
  const servers = (document as { servers?: unknown }).servers
  if (!Array.isArray(servers)) return []
  const origins = new Set<string>()
  for (const server of servers as unknown[]) {
    const url = (server as { url?: unknown } | null)?.url
    // A templated URL ({host}) names no single origin: "try it out" against it stays refused.
    if (typeof url !== 'string' || !/^https?:\/\//.test(url) || url.includes('{')) continue
    origins.add(new URL(url).origin)
  }
  return [...origins]
}
